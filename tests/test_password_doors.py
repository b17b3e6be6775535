"""Every door that takes a password follows the one sign-in policy (issue: the agent API's
HTTP Basic bypassed the portal's lockout and the second factor). In process."""

from __future__ import annotations

import pytest

from app_client import DEMO_PASSWORD, InProcess
from device_support import enrol_second_factor
from portal_in_process import PortalBrowser

DOORS = (
    "/api/v1/environments/F10001/settings",
    "/api/v1/environments/F10001/settings-bundle",
    "/api/v1/environments/F10001/installation",
)


def portal_sign_in(browser: PortalBrowser, login: str, password: str) -> int:
    """One sign-in on the firm's portal; the status of the answer."""
    return browser.sign_in(login, password).status_code


def settings_saved(app: InProcess) -> int:
    """How many settings files and bundles were handed out (the audit log counts them)."""
    with app.transaction() as uow:
        entries = uow.core.audit_entries(limit=1000)
    return sum(1 for e in entries if e.action in ("settings.save", "settings.bundle"))


@pytest.mark.parametrize("door", DOORS)
def test_a_login_locked_on_the_portal_is_locked_on_every_password_route(
    demo_app: InProcess, door: str
) -> None:
    browser, script = PortalBrowser(demo_app), demo_app.client()
    for _ in range(5):
        assert portal_sign_in(browser, "anna", "wrong password") == 401
    assert portal_sign_in(browser, "anna", DEMO_PASSWORD) == 429

    refused = script.get(door, auth=("anna", DEMO_PASSWORD))
    assert refused.status_code == 429, refused.text
    assert refused.json()["code"] == "account_locked"
    assert "koppel-admin accounts unlock anna" in refused.json()["message"]
    assert settings_saved(demo_app) == 0


def test_wrong_passwords_over_basic_are_recorded_and_lock_the_portal_too(
    demo_app: InProcess,
) -> None:
    script, browser = demo_app.client(), PortalBrowser(demo_app)
    for _ in range(5):
        wrong = script.get(DOORS[0], auth=("anna", "guess"))
        assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_credentials"
    with demo_app.transaction() as uow:
        since = demo_app.clock() - demo_app.svc.policy.lockout
        assert len(uow.portal.failures(login="anna", since=since)) == 5
    # The right password no longer opens anything: not the API, not the portal.
    assert script.get(DOORS[0], auth=("anna", DEMO_PASSWORD)).status_code == 429
    assert portal_sign_in(browser, "anna", DEMO_PASSWORD) == 429
    # The lock ends with the lockout window, as on the portal.
    demo_app.clock.advance(minutes=16)
    assert script.get(DOORS[0], auth=("anna", DEMO_PASSWORD)).status_code == 200


def test_an_address_guessing_over_many_logins_must_wait(demo_app: InProcess) -> None:
    guesser, colleague = demo_app.client("10.0.0.66"), demo_app.client("10.0.0.7")
    for number in range(30):
        answer = guesser.get(DOORS[0], auth=(f"user{number}", "guess"))
        assert answer.status_code == 401
    throttled = guesser.get(DOORS[0], auth=("anna", DEMO_PASSWORD))
    assert throttled.status_code == 429 and throttled.json()["code"] == "too_many_attempts"
    # Another address is not affected.
    assert colleague.get(DOORS[0], auth=("anna", DEMO_PASSWORD)).status_code == 200


@pytest.mark.parametrize("door", DOORS)
def test_an_account_with_a_second_factor_cannot_use_its_password_alone(
    demo_app: InProcess, door: str
) -> None:
    with demo_app.transaction() as uow:
        anna = uow.core.account("anna")
        enrol_second_factor(uow.core, uow.portal, demo_app.svc.policy, anna)
    refused = demo_app.client().get(door, auth=("anna", DEMO_PASSWORD))
    assert refused.status_code == 403, refused.text
    body = refused.json()
    assert body["code"] == "second_factor_required"
    assert "approve in your browser" in body["message"]
    assert settings_saved(demo_app) == 0
    # A wrong password is still a wrong password (and counts).
    wrong = demo_app.client().get(door, auth=("anna", "guess"))
    assert wrong.status_code == 401


def test_no_credentials_says_how_to_get_them(demo_app: InProcess) -> None:
    answer = demo_app.client().get(DOORS[0])
    assert answer.status_code == 401
    assert "koppel settings download" in answer.json()["message"]


def test_the_integration_push_takes_no_password(demo_app: InProcess) -> None:
    pushed = demo_app.client().post(
        "/api/v1/environments/F10001/users/bram/files",
        auth=("anna", DEMO_PASSWORD),
        content=b"payslip",
        headers={"Koppel-Filename": "payslip.pdf"},
    )
    assert pushed.status_code == 401, pushed.text
    assert pushed.json()["code"] == "token_invalid"
    assert "koppel-admin integrations create" in pushed.json()["message"]


@pytest.mark.parametrize("door", ["settings", "settings-bundle", "installation"])
def test_a_signed_in_user_learns_nothing_of_environments_not_theirs(
    demo_app: InProcess, door: str
) -> None:
    """Another firm's environment and a made-up code read the same (a host serves many
    firms: an employee of one must not find the others' client codes)."""
    from koppel.server.domain.model import Kind
    from koppel.server.domain.setup.administration import Admin

    with demo_app.transaction() as uow:
        admin = Admin(uow.core, demo_app.svc.policy, "cli:test")
        admin.create_environment("F90001", "Andere Firma", Kind.FIRM, has_portal=True)
    client = demo_app.client()
    answers = [
        client.get(f"/api/v1/environments/{code}/{door}", auth=("anna", DEMO_PASSWORD))
        for code in ("F90001", "F98765")
    ]
    assert [a.status_code for a in answers] == [403, 403]
    first, second = (a.json() for a in answers)
    assert first["code"] == second["code"] == "not_a_member"
    assert first["message"].replace("F90001", "X") == second["message"].replace("F98765", "X")
    assert "Andere Firma" not in first["message"]
