"""Issue 10, item 3: the bundle names every client of the firm that it leaves out, with a
reason code and a sentence that says who must do what, and the agent (`koppel settings
download --bundle`, `koppel link`) and the portal repeat that list. Agent output through
the real ``koppel`` CLI against a real server; the portal page in process."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app_client import InProcess
from harness import DEMO_PASSWORD, Result, Server, Workstation
from koppel.protocol.functions import Function
from koppel.server.domain.model import ConnectorName, Kind
from koppel.server.domain.setup.administration import Admin
from portal_client import Portal, text_of
from portal_in_process import PortalBrowser
from test_portal_downloads import saved

Ws = Callable[..., Workstation]
REFUSED = 7
INVALID_SETTINGS = 8

# bram's bundle after _leave_three_out: C20001 in it, these three left out.
LEFT_OUT = [
    ("C20002", "Garage Visser", "connector_blocked"),
    ("C20003", "Bloemenhuis De Vries", "not_authorized"),
    ("C20004", "Drukkerij Smit", "not_a_member"),
]
# What an employee is told to have done, per client: the administrator's command.
FIXES = {
    "C20002": "koppel-admin connector unblock C20002 communication-center",
    "C20003": "koppel-admin users authorize C20003 bram --function 'Save settings'",
    "C20004": "koppel-admin setup client C20004 --firm F10001 --user bram",
}


def _leave_three_out(srv: Server) -> None:
    """A blocked connector, a user without Save settings, and a client bram is no user of."""
    srv.ok("connector", "block", "C20002", "communication-center")
    srv.ok("users", "unauthorize", "C20003", "bram", "--function", "Save settings")
    srv.ok("env", "create", "C20004", "--name", "Drukkerij Smit", "--kind", "client",
           "--firm", "F10001")  # fmt: skip
    srv.ok("setup", "client", "C20004", "--firm", "F10001", "--user", "anna")


def _download(ws: Workstation, srv: Server, login: str, target: str, *json: str) -> Result:
    return ws.koppel(
        "settings", "download", "--server", srv.url, "--env", "F10001", "--login", login,
        "--bundle", "-o", str(ws.home / target), *json,
    )  # fmt: skip


def _report_lines(stderr: str, heading: str) -> list[str]:
    """The lines of the skipped-client report that follows ``heading`` on stderr."""
    after = stderr.split(heading, 1)[1]
    return [line.strip() for line in after.splitlines() if line.startswith("  ")]


def _assert_employee_report(lines: list[str]) -> None:
    assert len(lines) == 3, lines
    for line, (code, name, _reason) in zip(lines, LEFT_OUT, strict=True):
        assert line.startswith(f"{code} · {name}: "), line
        assert "ask your administrator" in line.lower() and FIXES[code] in line, line


def _assert_employee_json(skipped: list[dict[str, Any]]) -> None:
    assert [(s["code"], s["name"], s["reason"]) for s in skipped] == LEFT_OUT
    for entry in skipped:
        assert set(entry) == {"code", "name", "reason", "message"}
        assert FIXES[entry["code"]] in entry["message"]


def test_download_names_every_client_left_out(demo_server: Server, workstation: Ws) -> None:
    srv = demo_server
    _leave_three_out(srv)
    ws = workstation("laptop", KOPPEL_PASSWORD=DEMO_PASSWORD)

    text = _download(ws, srv, "bram", "text.koppel")
    assert text.returncode == 0, text.output
    saved_at = text.stderr.index("Saved the settings of 1 environment")
    heading = "3 clients were not included:"
    assert text.stderr.index(heading) > saved_at, text.stderr
    _assert_employee_report(_report_lines(text.stderr, heading))

    answer = _download(ws, srv, "bram", "json.koppel", "--json")
    assert answer.returncode == 0, answer.output
    data = answer.json()
    assert data["environments"] == 1 and Path(data["file"]).name == "json.koppel"
    _assert_employee_json(data["skipped"])


def test_link_names_every_client_left_out(demo_server: Server, workstation: Ws) -> None:
    srv = demo_server
    _leave_three_out(srv)
    ws = workstation("laptop")
    first = ws.save_settings(srv, "F10001", "bram", bundle=True)
    second = ws.save_settings(srv, "F10001", "bram", bundle=True)

    text = ws.koppel("link", str(first))
    # Something was linked: the command succeeds, and says what it did not do.
    assert text.returncode == 0, text.output
    assert "C20001" in text.stdout and "C20002" not in text.stdout
    heading = "3 clients were not included:"
    assert text.stderr.index(heading) > text.stderr.index("Linked 1 environment"), text.stderr
    _assert_employee_report(_report_lines(text.stderr, heading))

    answer = ws.koppel("link", str(second), "--json")
    assert answer.returncode == 0, answer.output
    data = answer.json()
    assert data["linked"] == ["C20001"]
    _assert_employee_json(data["skipped"])
    assert sorted(env["code"] for env in ws.ok("envs", "--json").json()) == ["C20001"]


def test_a_client_linked_by_another_file_is_not_reported(
    demo_server: Server, workstation: Ws
) -> None:
    srv = demo_server
    srv.ok("users", "unauthorize", "C20003", "bram", "--function", "Save settings")
    ws = workstation("laptop")
    bundle = ws.save_settings(srv, "F10001", "bram", bundle=True)
    # anna's settings of C20003 are linked by the same command: not missing after all.
    single = ws.save_settings(srv, "C20003", "anna")
    answer = ws.koppel("link", str(bundle), str(single), "--json")
    assert answer.returncode == 0, answer.output
    assert sorted(answer.json()["linked"]) == ["C20001", "C20002", "C20003"]
    assert answer.json()["skipped"] == []
    text = ws.koppel("link", str(ws.save_settings(srv, "F10001", "bram", bundle=True)))
    assert text.returncode == 0 and "1 client was not included:" in text.stderr, text.output


def test_an_administrator_is_told_what_to_do_herself(demo_server: Server, workstation: Ws) -> None:
    srv = demo_server
    srv.ok("connector", "block", "C20002", "communication-center")
    srv.ok("users", "unauthorize", "C20003", "anna", "--function", "Save settings")
    ws = workstation("laptop", KOPPEL_PASSWORD=DEMO_PASSWORD)
    answer = _download(ws, srv, "anna", "anna.koppel", "--json")
    assert answer.returncode == 0, answer.output
    messages = {s["code"]: s["message"] for s in answer.json()["skipped"]}
    assert sorted(messages) == ["C20002", "C20003"]
    assert "koppel-admin connector unblock C20002 communication-center" in messages["C20002"]
    assert (
        "koppel-admin users authorize C20003 anna --function 'Save settings'"
        in (messages["C20003"])
    )
    for message in messages.values():
        # anna administers both: she is given the command, not sent to herself.
        assert "ask your administrator" not in message.lower(), message
        assert "as its administrator" in message, message


def test_an_empty_bundle_says_why_each_client_is_missing(
    demo_server: Server, workstation: Ws
) -> None:
    srv = demo_server
    for code in ("C20001", "C20002", "C20003"):
        srv.ok("connector", "block", code, "communication-center")
    ws = workstation("laptop", KOPPEL_PASSWORD=DEMO_PASSWORD)

    refused = _download(ws, srv, "bram", "none.koppel")
    assert refused.returncode == REFUSED, refused.output
    assert not (ws.home / "none.koppel").exists()
    assert "3 clients were not included:" in refused.stderr
    for code in ("C20001", "C20002", "C20003"):
        assert f"koppel-admin connector unblock {code} communication-center" in refused.stderr
    answer = _download(ws, srv, "bram", "none.koppel", "--json")
    assert answer.returncode == REFUSED
    error = answer.json()["error"]
    assert error["code"] == "bundle_empty"
    assert [s["reason"] for s in error["skipped"]] == ["connector_blocked"] * 3

    # The same bundle saved from the portal: `koppel link` refuses it and says why.
    with Portal(srv).signed_in("bram") as bram:
        bundle = saved(ws, bram.get(bram.path("bundle")))
    link = ws.koppel("link", str(bundle), "--json")
    assert link.returncode == INVALID_SETTINGS, link.output
    assert link.json()["error"]["code"] == "bundle_empty"
    assert "3 clients were not included:" in link.stderr
    assert "koppel-admin connector unblock C20003 communication-center" in link.stderr


# -- the portal page, in process ------------------------------------------------------------


def _bundle_section(html: str) -> str:
    found = re.search(r'(?s)<section[^>]*aria-labelledby="bundle-heading".*?</section>', html)
    assert found, html
    return text_of(found.group(0))


def test_the_portal_lists_what_the_bundle_leaves_out(demo_app: InProcess) -> None:
    with demo_app.transaction() as uow:
        admin = Admin(uow.core, demo_app.svc.policy, "test")
        admin.set_connector_blocked("C20002", ConnectorName.COMMUNICATION_CENTER, True)
        admin.authorize_user("C20003", "bram", [Function.SAVE_SETTINGS], granted=False)
        admin.create_environment("C20004", "Drukkerij Smit", Kind.CLIENT, firm="F10001")
        admin.add_user("C20004", "anna")
        # bram may save settings in C20005, which has no main site yet.
        admin.create_environment("C20005", "Kapsalon Bos", Kind.CLIENT, firm="F10001")
        admin.set_api_url("C20005", demo_app.svc.policy.public_url)
        admin.add_user("C20005", "bram")
        admin.authorize_user("C20005", "bram", [Function.SAVE_SETTINGS])
        admin.set_connector_blocked("C20005", ConnectorName.COMMUNICATION_CENTER, False)

    bram = PortalBrowser(demo_app).signed_in("bram")
    section = _bundle_section(bram.get(bram.path("environments", "F10001")).text)
    bundle = bram.get(bram.path("bundle")).json()

    assert [s["environment"]["code"] for s in bundle["settings"]] == ["C20001"]
    assert "C20001 · Bakkerij Jansen" in section
    skipped = bundle["skipped"]
    assert [(s["environment"], s["name"], s["code"]) for s in skipped] == [
        ("C20002", "Garage Visser", "connector_blocked"),
        ("C20003", "Bloemenhuis De Vries", "not_authorized"),
        ("C20004", "Drukkerij Smit", "not_a_member"),
        ("C20005", "Kapsalon Bos", "main_site_missing"),
    ]
    assert "4 clients are not in the bundle" in section
    for entry in skipped:
        # The page shows exactly what the file says.
        assert f"{entry['environment']} · {entry['name']}: {entry['message']}" in section
        assert "ask your administrator" in entry["message"].lower()

    # anna administers C20002 and is told to unblock it herself; she administers neither
    # C20004 (a user without functions) nor C20005 (no user), so she asks for those.
    anna = PortalBrowser(demo_app).signed_in("anna")
    anna_bundle = anna.get(anna.path("bundle")).json()
    messages = {s["environment"]: s["message"] for s in anna_bundle["skipped"]}
    assert sorted(messages) == ["C20002", "C20004", "C20005"]
    assert "as its administrator" in messages["C20002"]
    assert "ask your administrator" not in messages["C20002"].lower()
    assert all("ask your administrator" in messages[c].lower() for c in ("C20004", "C20005"))
    anna_section = _bundle_section(anna.get(anna.path("environments", "F10001")).text)
    assert "3 clients are not in the bundle" in anna_section
    for code, message in messages.items():
        assert f"{code} · " in anna_section and message in anna_section


def test_a_client_whose_record_cannot_be_carried_is_listed(demo_app: InProcess) -> None:
    long_name = "Holding " + "x" * 250
    with demo_app.transaction() as uow:
        admin = Admin(uow.core, demo_app.svc.policy, "test")
        admin.create_environment("C20006", long_name, Kind.CLIENT, firm="F10001")
        admin.set_api_url("C20006", demo_app.svc.policy.public_url)
        admin.set_main_site("C20006", demo_app.svc.policy.public_url)
        admin.add_user("C20006", "bram")
        admin.authorize_user("C20006", "bram", [Function.SAVE_SETTINGS])
        admin.set_connector_blocked("C20006", ConnectorName.COMMUNICATION_CENTER, False)
        # Another firm's client is none of this bundle's business.
        admin.create_environment("F10002", "Other firm", Kind.FIRM)
        admin.create_environment("C90001", "Elsewhere", Kind.CLIENT, firm="F10002")

    bram = PortalBrowser(demo_app).signed_in("bram")
    bundle = bram.get(bram.path("bundle")).json()
    assert [s["environment"]["code"] for s in bundle["settings"]] == ["C20001", "C20002", "C20003"]
    (entry,) = bundle["skipped"]
    assert (entry["environment"], entry["code"]) == ("C20006", "validation_error")
    assert len(entry["name"]) == 200 and entry["name"].endswith("…")
    assert "koppel-admin env show C20006" in entry["message"]
    section = _bundle_section(bram.get(bram.path("environments", "F10001")).text)
    assert "1 client is not in the bundle" in section and entry["message"] in section
    assert "C90001" not in section and "Elsewhere" not in section
