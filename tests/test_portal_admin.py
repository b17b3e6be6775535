"""The portal's administration pages, on the app in process: the checklist (the same as
``koppel-admin check``) with its buttons, user tokens with revoke (the real agent is cut
off), the audit log with filters, and refusals for users who do not administer. Where the
network is the point (the agent, ``check``'s probes) the app is served on a port."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

from app_client import InProcess
from harness import Server, Workstation
from portal_client import Portal, text_of

Ws = Callable[..., Workstation]

TOKEN_REVOKED = 5  # the agent's exit code for a revoked token
PASSWORD = "boss-password-1"

_SECTION = re.compile(r'<section class="card admin-env" id="env-(\w+)".*?</section>', re.S)
_ROW = re.compile(r'<tr data-step="([^"]+)" data-state="(\w+)">(.*?)</tr>', re.S)
_CELL = re.compile(r'<td data-label="([^"]+)">(.*?)</td>', re.S)
_FIX = re.compile(r'<code class="fix">(.*?)</code>', re.S)
_STEP_FORM = re.compile(r'<form class="inline" method="post" action="([^"]+/steps/[^"]+)"')
_AUDIT_ROW = re.compile(
    r'<tr data-environment="([^"]*)" data-actor="([^"]*)" data-action="([^"]*)">'
)


def checklist_of(html: str) -> dict[str, list[dict[str, Any]]]:
    """The checklist page as ``check --json`` has it: per environment, every step."""
    found: dict[str, list[dict[str, Any]]] = {}
    for section in _SECTION.finditer(html):
        steps = []
        for key, state, row in _ROW.findall(section.group(0)):
            cells = dict(_CELL.findall(row))
            fix = _FIX.search(cells["How to fix"])
            steps.append(
                {
                    "key": key,
                    "title": text_of(cells["Step"]),
                    "done": state == "done",
                    "detail": text_of(cells["Detail"]),
                    "fix": unescape(fix.group(1)) if fix else None,
                }
            )
        found[section.group(1)] = steps
    return found


def check_json(srv: Server | InProcess, *codes: str) -> dict[str, list[dict[str, Any]]]:
    """``koppel-admin check CODES --json``, steps per environment (details collapsed as
    the page's text is). The page does not probe the recorded addresses (the server would
    only be asking itself), so neither does this."""
    result = srv.admin("check", *codes, "--json", "--no-probe")
    assert result.returncode in (0, 3), result.output
    return {
        env["code"]: [
            dict(step, detail=re.sub(r"\s+", " ", step["detail"]).strip()) for step in env["steps"]
        ]
        for env in result.json()["environments"]
    }


def state_of(srv: Server | InProcess, code: str, key: str) -> bool:
    return bool(next(s["done"] for s in check_json(srv, code)[code] if s["key"] == key))


def audit_rows(html: str) -> list[tuple[str, str, str]]:
    return _AUDIT_ROW.findall(html)


def partial_firm(srv: Server | InProcess) -> None:
    """A firm whose only administrator is ``boss``: signed in on its portal, everything
    else missing; a client ``boss`` administers and one where ``boss`` is only a user."""
    for login in ("boss", "carla"):
        srv.ok("accounts", "create", login, "--name", login.title(), "--password", PASSWORD)
    srv.ok("env", "create", "F30001", "--name", "Firma", "--kind", "firm")
    srv.ok("users", "add", "F30001", "boss", "carla")
    srv.ok("portal", "grant", "F30001", "boss")
    srv.ok("users", "authorize", "F30001", "boss", "--function", "App connector")
    for client in ("C30001", "C30002"):
        srv.ok("env", "create", client, "--kind", "client", "--firm", "F30001")
        srv.ok("users", "add", client, "boss")
    srv.ok("users", "authorize", "C30001", "boss", "--function", "App connector")
    # Their dossiers are set up (adding destinations is no click on the checklist).
    destinations = srv.data_dir.parent / "destinations.csv"
    destinations.write_text("code,name,kind\nORG,Firma,organisation\n")
    for code in ("F30001", "C30001"):
        srv.ok("destinations", "import", code, str(destinations))
        srv.ok("item-types", "create", code, "Invoice")


def test_checklist_buttons_complete_the_procedure(server: Server) -> None:
    # Served on a port: the last `check` probes the addresses the buttons recorded.
    srv = server
    partial_firm(srv)
    with Portal(srv, "F30001") as web:
        web.signed_in("boss", PASSWORD)
        home = web.get(web.path(""))
        assert f'href="{web.path("admin")}"' in home.text  # the Administration link

        page = web.get(web.path("admin"))
        assert page.status_code == 200
        shown = checklist_of(page.text)
        # Only the environments boss administers; each exactly as `check --json`.
        assert sorted(shown) == ["C30001", "F30001"]
        assert shown == check_json(srv, "F30001", "C30001")
        assert any(not s["done"] for s in shown["F30001"])
        assert "✗ Missing" in text_of(page.text) and "✓ Done" in text_of(page.text)
        assert "koppel-admin connector unblock F30001 communication-center" in text_of(page.text)
        before = {(code, s["key"]) for code, steps in shown.items() for s in steps if not s["done"]}

        clicked: list[tuple[str, str]] = []
        while buttons := _STEP_FORM.findall(web.last.text if web.last else ""):
            action = unescape(buttons[0])
            code, key = action.split("/")[-3], action.split("/")[-1]
            assert (code, key) not in clicked, f"{action} did not complete its step"
            assert not state_of(srv, code, key)
            answer = web.post(action)
            assert answer.status_code == 200, text_of(answer.text)
            assert str(answer.url.path) == web.path("admin")
            assert 'role="status"' in answer.text  # the notice of what changed
            after = checklist_of(answer.text)
            assert next(s for s in after[code] if s["key"] == key)["done"], key
            assert state_of(srv, code, key)
            assert after == check_json(srv, "F30001", "C30001")
            clicked.append((code, key))

        # Every missing step a click can do was clicked, including the client's main
        # site, offered once the firm's own main site was recorded.
        assert set(clicked) == before
        assert ("C30001", "main-site") in clicked
        assert srv.admin("check", "F30001", "C30001").returncode == 0
        assert srv.admin("check", "C30002").returncode == 3  # not boss's to administer

        # The audit log names boss as the actor of each change, on the page and the CLI.
        log = web.get(web.path("admin", "audit"), params={"actor": "boss"})
        rows = audit_rows(log.text)
        assert rows and {actor for _, actor, _ in rows} == {"boss"}
        actions = {action for _, _, action in rows}
        assert {
            "environment.api_url",
            "portal.grant",
            "user.authorize",
            "connector.unblock",
            "environment.main_site",
        } <= actions
        cli = srv.ok("audit", "--actor", "boss", "--limit", "500", "--json").json()["entries"]
        assert len(cli) == len(rows)
        assert {e["environment"] for e in cli} == {"F30001", "C30001"}

        # A step done already changes nothing when posted again.
        again = web.post(web.path("admin", "F30001", "steps", "connector"))
        assert again.status_code == 200 and "already" in text_of(again.text)
        assert len(srv.ok("audit", "--actor", "boss", "--json").json()["entries"]) == len(cli)


def test_an_environment_not_administered_is_not_found(empty_app: InProcess) -> None:
    srv = empty_app
    partial_firm(srv)
    with Portal(srv, "F30001") as web:
        web.signed_in("boss", PASSWORD)
        web.get(web.path("admin"))
        for path in (
            web.path("admin", "C30002", "steps", "connector"),
            web.path("admin", "C30002", "tokens", "revoke-user"),
            web.path("admin", "C99999", "steps", "connector"),
        ):
            refused = web.post(path, {"login": "boss"})
            assert refused.status_code == 404, path
            assert "not an environment you administer" in text_of(refused.text)
        assert web.get(web.path("admin", "C30002", "tokens")).status_code == 404
        audit = web.get(web.path("admin", "audit"), params={"environment": "C30002"})
        assert audit.status_code == 404
        assert not state_of(srv, "C30002", "connector")
        entries = srv.ok("audit", "--actor", "boss", "--json").json()["entries"]
        assert [e["action"] for e in entries] == ["portal.sign_in"]  # nothing changed


def test_users_without_the_function_see_no_administration(demo_app: InProcess) -> None:
    srv = demo_app
    srv.ok("connector", "block", "C20001")
    with Portal(srv) as bram:
        home = bram.signed_in("bram").last
        assert home is not None and "Administration" not in home.text
        for path in (
            bram.path("admin"),
            bram.path("admin", "audit"),
            bram.path("admin", "C20001", "tokens"),
        ):
            assert bram.get(path).status_code == 404, path
        bram.get(bram.path(""))  # a page with this session's CSRF token
        for path in (
            bram.path("admin", "C20001", "steps", "connector"),
            bram.path("admin", "C20001", "tokens", "revoke-user"),
        ):
            refused = bram.post(path, {"login": "anna"})
            assert refused.status_code == 404, path
        assert not state_of(srv, "C20001", "connector")

    with Portal(srv) as anna:
        anna.signed_in("anna")
        home = anna.get(anna.path(""))
        assert f'href="{anna.path("admin")}"' in home.text
        page = anna.get(anna.path("admin"))
        assert sorted(checklist_of(page.text)) == ["C20001", "C20002", "C20003", "F10001"]
        # Without the form's CSRF token: refused, nothing changed.
        forged = anna.post(anna.path("admin", "C20001", "steps", "connector"), csrf=False)
        assert forged.status_code == 403
        assert not state_of(srv, "C20001", "connector")
        done = anna.post(anna.path("admin", "C20001", "steps", "connector"))
        assert done.status_code == 200 and state_of(srv, "C20001", "connector")
        assert "communication-center of C20001 is now open" in text_of(done.text)


def test_revoking_a_token_on_the_page_cuts_the_agent_off(
    demo_server: Server, workstation: Ws
) -> None:
    srv = demo_server
    laptop, desktop = workstation("laptop"), workstation("desktop")
    laptop.ok("link", str(laptop.save_settings(srv, "C20001", "anna")))
    desktop.ok("link", str(desktop.save_settings(srv, "C20001", "bram")))
    desktop.ok("link", str(desktop.save_settings(srv, "C20002", "bram")))
    anna_token = srv.ok("tokens", "list", "C20001", "--user", "anna", "--json").json()["tokens"]
    assert len(anna_token) == 1
    token_id = anna_token[0]["id"]

    with Portal(srv) as web:
        web.signed_in("anna")
        page = web.get(web.path("admin", "C20001", "tokens"))
        assert page.status_code == 200
        row = re.search(
            rf'<tr data-token="{token_id}" data-state="active">(.*?)</tr>', page.text, re.S
        )
        assert row, text_of(page.text)
        cells = text_of(row.group(1))
        assert "anna" in cells and "laptop" in cells
        # Times in local time, as the language writes them ("3 Dec 2026 19:11").
        assert re.search(r"\d{1,2} \w{3} \d{4} \d{2}:\d{2}", cells), cells
        assert 'data-connector="communication-center"' in page.text

        revoked = web.post(web.path("admin", "C20001", "tokens", token_id, "revoke"))
        assert revoked.status_code == 200 and "1 token revoked" in text_of(revoked.text)
        assert f'data-token="{token_id}"' not in revoked.text  # active ones only
        assert laptop.koppel("info", "C20001").returncode == TOKEN_REVOKED
        assert desktop.ok("info", "C20001").returncode == 0

        everything = web.get(web.path("admin", "C20001", "tokens"), params={"show": "all"})
        assert f'data-token="{token_id}" data-state="revoked (administrator)"' in everything.text
        assert "Revoked (administrator)" in text_of(everything.text)
        # Revoking it again: it is no longer active, nothing changes.
        again = web.post(web.path("admin", "C20001", "tokens", token_id, "revoke"))
        assert again.status_code == 404

        # Every token of bram in C20001; his C20002 link stays.
        gone = web.post(web.path("admin", "C20001", "tokens", "revoke-user"), {"login": "bram"})
        assert gone.status_code == 200 and "revoked" in text_of(gone.text)
        assert desktop.koppel("info", "C20001").returncode == TOKEN_REVOKED
        assert desktop.ok("info", "C20002").returncode == 0
        nobody = web.post(web.path("admin", "C20001", "tokens", "revoke-user"), {"login": ""})
        assert nobody.status_code == 400
        assert srv.ok("tokens", "list", "C20002", "--json").json()["tokens"]

        log = web.get(web.path("admin", "audit"), params={"action": "token.revoke"})
        assert audit_rows(log.text) == [("C20001", "anna", "token.revoke")] * 2
        cli = srv.ok("audit", "--action", "token", "--json").json()["entries"]
        assert [(e["actor"], e["environment"]) for e in cli] == [("anna", "C20001")] * 2


def test_audit_filters_narrow_the_list(demo_app: InProcess) -> None:
    srv = demo_app
    srv.ok("connector", "block", "C20002")
    srv.ok("connector", "block", "F10001")
    with Portal(srv) as web:
        web.signed_in("anna")
        web.get(web.path("admin"))
        web.post(web.path("admin", "C20002", "steps", "connector"))

        def rows(**params: str) -> list[tuple[str, str, str]]:
            page = web.get(web.path("admin", "audit"), params=params)
            assert page.status_code == 200, text_of(page.text)
            return audit_rows(page.text)

        everything = rows()
        assert len(everything) == 50  # the first page of the demo's set-up and more
        assert everything[0] == ("C20002", "anna", "connector.unblock")  # newest first
        assert {env for env, _, _ in everything} <= {"F10001", "C20001", "C20002", "C20003"}

        only_c20002 = rows(environment="C20002")
        assert only_c20002 and {env for env, _, _ in only_c20002} == {"C20002"}
        by_anna = rows(actor="anna")
        # Her sign-in is recorded too.
        assert by_anna == [
            ("C20002", "anna", "connector.unblock"),
            ("F10001", "anna", "portal.sign_in"),
        ]
        connectors = rows(action="connector")
        assert [(e, a) for e, _, a in connectors[:3]] == [
            ("C20002", "connector.unblock"),
            ("F10001", "connector.block"),
            ("C20002", "connector.block"),
        ]
        assert all(a.startswith("connector.") for _, _, a in connectors)
        blocks = rows(action="connector.block", actor="cli:test-admin")
        assert [e for e, _, _ in blocks] == ["F10001", "C20002"]
        assert rows(action="connector.block", environment="F10001") == [
            ("F10001", "cli:test-admin", "connector.block")
        ]

        today = datetime.now(UTC).date()
        assert rows(until=str(today - timedelta(days=1))) == []
        assert rows(since=str(today), actor="anna") == by_anna
        bad = web.get(web.path("admin", "audit"), params={"since": "31-01-2026"})
        assert bad.status_code == 400

        # Pages of 50: the next page continues where the first ended.
        first = web.get(web.path("admin", "audit"))
        assert 'rel="next"' in first.text and 'rel="prev"' not in first.text
        second = web.get(web.path("admin", "audit"), params={"page": "2"})
        assert 'rel="prev"' in second.text
        total = [
            e
            for e in srv.ok("audit", "--limit", "1000", "--json").json()["entries"]
            if e["environment"] in {"F10001", "C20001", "C20002", "C20003"}
        ]
        assert len(audit_rows(second.text)) == min(50, len(total) - 50)
