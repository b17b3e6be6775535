"""A lost laptop on the portal, in process: an administrator revokes a workstation in every
environment they administer (and no other), a user says "this device is lost" on My devices
and its links end in every environment of theirs. Confirmed first, CSRF-protected,
audited once per environment, and the API refuses the tokens afterwards."""

from __future__ import annotations

import re
from typing import Any

from app_client import UPDATE, InProcess, bearer
from koppel.server.domain.model import Kind
from koppel.server.domain.setup.administration import Admin
from koppel.server.domain.setup.apply import setup_firm
from portal_client import text_of
from portal_in_process import PortalBrowser

_PREVIEW_ROW = re.compile(r'<tr data-environment="(\w+)" data-count="(\d+)">(.*?)</tr>', re.S)
_CONFIRM_ROW = re.compile(r'<tr data-environment="(\w+)">', re.S)


def other_firm(app: InProcess, *logins: str) -> None:
    """F10002: a firm with its own portal, not a client of F10001, with these users."""
    with app.transaction() as uow:
        admin = Admin(uow.core, app.svc.policy, "test")
        admin.create_environment("F10002", "Other firm", Kind.FIRM)
        for login in logins:
            admin.add_user("F10002", login)
        setup_firm(admin, "F10002")


def link(app: InProcess, login: str, workstation: tuple[str, str], *codes: str) -> dict[str, str]:
    """Link ``codes`` for ``login`` from a workstation (id, name); the tokens by code."""
    key, name = workstation
    answer = app.client().post(
        "/api/v1/links",
        headers=UPDATE,
        json={
            "workstation": {"id": key, "name": name},
            "settings": [app.settings_file(code, login) for code in codes],
        },
    )
    assert answer.status_code == 200, answer.text
    return {found["code"]: found["token"] for found in answer.json()["links"]}


def refusal(app: InProcess, code: str, token: str) -> str | None:
    """None if the token opens ``code``; else the API's error code."""
    answer = app.client().get(f"/api/v1/environments/{code}/me", headers=bearer(token))
    if answer.status_code == 200:
        return None
    body: dict[str, Any] = answer.json()
    return str(body["code"])


def revocations(app: InProcess) -> list[tuple[str | None, str, dict[str, Any]]]:
    with app.transaction() as uow:
        entries = uow.core.audit_entries(action="token.revoke")
    return sorted(((e.environment, e.actor, e.detail) for e in entries), key=lambda e: str(e[0]))


def test_an_administrator_revokes_a_workstation_in_every_environment_they_administer(
    demo_app: InProcess,
) -> None:
    app = demo_app
    other_firm(app, "bram")
    brams = link(app, "bram", ("bram-laptop-1", "laptop"), "C20001", "C20002", "F10002")
    annas = link(app, "anna", ("anna-desk-1", "desk"), "C20001")
    anna = PortalBrowser(app).signed_in("anna")

    # The tokens page links each workstation to the lost-workstation page, by its id.
    tokens = anna.get(anna.path("admin", "C20001", "tokens"))
    assert "lost-workstation?workstation=bram-laptop-1&amp;login=bram" in tokens.text
    form = anna.get(anna.path("admin", "lost-workstation"))
    assert form.status_code == 200 and "Lost workstation" in text_of(form.text)
    assert 'name="workstation"' in form.text and "lost-preview" not in form.text

    # The preview: only the environments anna administers (F10002 is another firm's).
    preview = anna.get(anna.path("admin", "lost-workstation"), params={"workstation": "laptop"})
    assert preview.status_code == 200, text_of(preview.text)
    rows = {
        code: (int(count), text_of(row)) for code, count, row in _PREVIEW_ROW.findall(preview.text)
    }
    assert sorted(rows) == ["C20001", "C20002"]
    assert rows["C20001"][0] == 1 and "bram" in rows["C20001"][1]
    assert "2 tokens of laptop would be revoked in 2 environments" in text_of(preview.text)
    assert "Revoke laptop in 2 environments" in text_of(preview.text)
    assert refusal(app, "C20001", brams["C20001"]) is None and revocations(app) == []

    # Without the form's CSRF token: refused, nothing changed.
    forged = anna.post(
        anna.path("admin", "lost-workstation"), {"workstation": "laptop"}, csrf=False
    )
    assert forged.status_code == 403
    assert refusal(app, "C20001", brams["C20001"]) is None

    done = anna.post(anna.path("admin", "lost-workstation"), {"workstation": "laptop", "login": ""})
    assert done.status_code == 200 and done.url.path == anna.path("admin", "lost-workstation")
    assert "2 tokens of laptop revoked in 2 environments (C20001, C20002); user: bram." in (
        text_of(done.text)
    )
    assert refusal(app, "C20001", brams["C20001"]) == "token_revoked"
    assert refusal(app, "C20002", brams["C20002"]) == "token_revoked"
    assert refusal(app, "F10002", brams["F10002"]) is None  # not anna's to administer
    assert refusal(app, "C20001", annas["C20001"]) is None
    entries = revocations(app)
    assert [(env, actor) for env, actor, _ in entries] == [("C20001", "anna"), ("C20002", "anna")]
    assert all(d["logins"] == ["bram"] and d["reason"] == "administrator" for *_, d in entries)

    # Posting again: nothing left, nothing recorded.
    again = anna.post(anna.path("admin", "lost-workstation"), {"workstation": "laptop"})
    assert "Nothing to revoke: laptop has no active access left." in text_of(again.text)
    assert len(revocations(app)) == 2


def test_the_administrators_refusals_change_nothing_and_reveal_nothing(
    demo_app: InProcess,
) -> None:
    app = demo_app
    other_firm(app, "bram")
    brams = link(app, "bram", ("bram-laptop-1", "laptop"), "F10002")
    annas = link(app, "anna", ("anna-laptop-1", "Laptop-Anna"), "C20001")
    anna = PortalBrowser(app).signed_in("anna")
    page = anna.path("admin", "lost-workstation")

    # A name with no token in anna's environments (bram's laptop is in F10002 only).
    shown = anna.get(page, params={"workstation": "laptop"})
    assert shown.status_code == 404
    message = text_of(shown.text)
    assert "No workstation named 'laptop'" in message
    assert "in the environments you administer" in message
    assert "Similar names: Laptop-Anna" in message  # hers, never another firm's names
    refused = anna.post(page, {"workstation": "laptop"})
    assert refused.status_code == 404 and "nothing was revoked" in text_of(refused.text)
    # An unknown login reads like a login without a token there: no account is revealed.
    zoe = text_of(anna.post(page, {"workstation": "Laptop-Anna", "login": "zoe"}).text)
    bram = text_of(anna.post(page, {"workstation": "Laptop-Anna", "login": "bram"}).text)
    assert zoe.replace("zoe", "bram") == bram and "no account" not in zoe
    empty = anna.post(page, {"workstation": " "})
    assert empty.status_code == 400

    # Someone who administers nothing sees no such page, and cannot post to it.
    other = PortalBrowser(app).signed_in("bram")
    assert other.get(page).status_code == 404
    other.get(other.path())
    assert other.post(page, {"workstation": "Laptop-Anna"}).status_code == 404

    assert refusal(app, "F10002", brams["F10002"]) is None
    assert refusal(app, "C20001", annas["C20001"]) is None
    assert revocations(app) == []


def test_this_device_is_lost_revokes_it_in_every_environment_of_the_user(
    demo_app: InProcess,
) -> None:
    app = demo_app
    other_firm(app, "anna")  # another portal where anna is a user too
    laptop = link(app, "anna", ("anna-laptop-1", "laptop"), "C20001", "C20002", "F10002")
    desk = link(app, "anna", ("anna-desk-1", "desk"), "C20001")
    brams = link(app, "bram", ("bram-laptop-1", "laptop"), "C20001")
    anna = PortalBrowser(app).signed_in("anna")

    devices = anna.get(anna.path("devices"))
    shown = text_of(devices.text)
    assert "laptop also has 1 active link in environments of other portals" in shown
    lost_link = anna.path("devices", "lost") + "?workstation=anna-laptop-1"
    assert lost_link in devices.text and "This device is lost…" in shown

    # The confirmation step lists every environment, this portal's and the other one's.
    confirm = anna.get(lost_link)
    assert confirm.status_code == 200, text_of(confirm.text)
    assert _CONFIRM_ROW.findall(confirm.text) == ["C20001", "C20002", "F10002"]
    assert "3 links of laptop will end" in text_of(confirm.text)
    assert "Revoke laptop everywhere" in text_of(confirm.text)
    assert all(refusal(app, code, token) is None for code, token in laptop.items())

    forged = anna.post(anna.path("devices", "lost"), {"workstation_id": "anna-laptop-1"},
                       csrf=False)  # fmt: skip
    assert forged.status_code == 403
    assert all(refusal(app, code, token) is None for code, token in laptop.items())

    done = anna.post(anna.path("devices", "lost"), {"workstation_id": "anna-laptop-1"})
    assert done.status_code == 200 and done.url.path == anna.path("devices")
    assert "laptop no longer has access to C20001, C20002, F10002" in text_of(done.text)
    assert {code: refusal(app, code, token) for code, token in laptop.items()} == {
        "C20001": "token_revoked",
        "C20002": "token_revoked",
        "F10002": "token_revoked",
    }
    assert refusal(app, "C20001", desk["C20001"]) is None
    assert refusal(app, "C20001", brams["C20001"]) is None  # bram's machine of that name
    entries = revocations(app)
    assert [(env, actor) for env, actor, _ in entries] == [
        ("C20001", "anna"),
        ("C20002", "anna"),
        ("F10002", "anna"),
    ]
    assert all(d["reason"] == "user" and d["workstation"] == "laptop" for *_, d in entries)

    # Nothing left: the confirmation page says so, and has no button.
    after = anna.get(lost_link)
    assert "nothing to revoke" in text_of(after.text) and "Revoke laptop" not in after.text


def test_nobody_declares_anothers_device_lost(demo_app: InProcess) -> None:
    app = demo_app
    annas = link(app, "anna", ("anna-laptop-1", "laptop"), "C20001")
    bram = PortalBrowser(app).signed_in("bram")
    answer = bram.get(bram.path("devices", "lost"), params={"workstation": "anna-laptop-1"})
    assert answer.status_code == 404
    assert bram.get(bram.path("devices", "lost")).status_code == 404
    bram.get(bram.path("devices"))
    refused = bram.post(bram.path("devices", "lost"), {"workstation_id": "anna-laptop-1"})
    assert refused.status_code == 404 and "is not one of your devices" in text_of(refused.text)
    assert refusal(app, "C20001", annas["C20001"]) is None
    assert revocations(app) == []
