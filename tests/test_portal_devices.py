"""'My devices': a user's own tokens on the portal, and revoking them, against the real
agent. The app served on a port in the test process (``koppel-admin`` in process), the
real ``koppel`` CLI."""

from __future__ import annotations

import re
from collections.abc import Callable

from harness import Server, Workstation
from portal_client import Portal, text_of

Ws = Callable[..., Workstation]

# Exit codes of the agent (koppel.agent.exit_codes), spelled out: the tests pin the contract.
PROBLEMS, TOKEN_REVOKED = 3, 5
_TOKEN_ROW = re.compile(r'<tr id="token-([^"]+)">(.*?)</tr>', re.S)


def link(ws: Workstation, server: Server, *codes: str) -> None:
    for code in codes:
        ws.ok("link", str(ws.save_settings(server, code, "anna")))


def rows(html: str) -> dict[str, str]:
    """The devices page's token rows: public id -> the row's text."""
    return {token: text_of(row) for token, row in _TOKEN_ROW.findall(html)}


def token_id(server: Server, env: str, login: str = "anna") -> str:
    listed = server.ok("tokens", "list", env, "--json").json()["tokens"]
    mine = [t for t in listed if t["login"] == login]
    assert len(mine) == 1, listed
    return str(mine[0]["id"])


def test_devices_list_own_tokens_and_revoke_one(demo_server: Server, workstation: Ws) -> None:
    srv, laptop = demo_server, workstation("laptop")
    # Linking C20002 again replaces its token: the replaced one is not listed.
    link(laptop, srv, "C20001", "C20002", "C20002")
    c20001, c20002 = token_id(srv, "C20001"), token_id(srv, "C20002")
    with Portal(srv).signed_in("anna") as anna:
        page = anna.get(anna.path("devices"))
        assert page.status_code == 200
        text = text_of(page.text)
        assert "My devices" in text and "laptop" in text and "2 active links" in text
        found = rows(page.text)
        assert set(found) == {c20001, c20002}
        assert "C20001 · Bakkerij Jansen" in found[c20001] and "active" in found[c20001]
        assert "Communication Center" in found[c20002]
        assert "Revoke all access of laptop" in text

        after = anna.post(anna.path("devices", c20001, "revoke"))
        assert after.status_code == 200
        assert after.url.path == anna.path("devices")
        assert "laptop no longer has access to C20001" in text_of(after.text)
        found = rows(after.text)
        assert "revoked (revoked by you)" in found[c20001] and "Revoke" not in found[c20001]
        assert "active" in found[c20002]

    refused = laptop.koppel("info", "C20001")
    assert refused.returncode == TOKEN_REVOKED
    assert "revoked by its user from the portal" in refused.stderr
    assert laptop.ok("info", "C20002").returncode == 0
    doctor = laptop.koppel("doctor", "--json")
    assert doctor.returncode == PROBLEMS
    states = {e["environment"]: e["state"] for e in doctor.json()["environments"]}
    assert states == {"C20001": "token_revoked", "C20002": "ok"}

    listed = srv.ok("tokens", "list", "C20001", "--all", "--json").json()["tokens"]
    assert [t["revoked_reason"] for t in listed if t["id"] == c20001] == ["user"]
    audit = srv.ok("audit", "--env", "C20001", "--json").json()["entries"]
    revoke = [e for e in audit if e["action"] == "token.revoke"]
    assert len(revoke) == 1 and revoke[0]["actor"] == "anna"


def test_revoke_every_link_of_a_workstation(demo_server: Server, workstation: Ws) -> None:
    srv = demo_server
    laptop, desktop = workstation("laptop"), workstation("desktop")
    link(laptop, srv, "C20001", "C20003")
    link(desktop, srv, "C20001")
    with Portal(srv).signed_in("anna") as anna:
        page = anna.get(anna.path("devices"))
        workstations = re.findall(r'name="workstation_id" value="([^"]+)"', page.text)
        # Only a workstation with several links gets the "revoke all" button.
        assert len(workstations) == 1
        after = anna.post(
            anna.path("devices", "revoke-workstation"), {"workstation_id": workstations[0]}
        )
        assert "laptop no longer has access to C20001, C20003" in text_of(after.text)
    assert laptop.koppel("info", "C20001").returncode == TOKEN_REVOKED
    assert laptop.koppel("info", "C20003").returncode == TOKEN_REVOKED
    assert desktop.ok("info", "C20001").returncode == 0


def test_nobody_sees_or_revokes_anothers_tokens(demo_server: Server, workstation: Ws) -> None:
    srv, laptop = demo_server, workstation("laptop")
    link(laptop, srv, "C20001")
    annas = token_id(srv, "C20001")
    with Portal(srv).signed_in("bram") as bram:
        page = bram.get(bram.path("devices"))
        assert rows(page.text) == {} and "laptop" not in text_of(page.text)
        assert "You have not linked any workstation yet" in text_of(page.text)

        refused = bram.post(bram.path("devices", annas, "revoke"))
        assert refused.status_code == 404
        assert "is not one of your devices" in text_of(refused.text)
        refused = bram.post(bram.path("devices", "kplt-nothing", "revoke"))
        assert refused.status_code == 404
        workstation_id = srv.ok("tokens", "list", "C20001", "--json").json()["tokens"][0]
        refused = bram.post(
            bram.path("devices", "revoke-workstation"),
            {"workstation_id": workstation_id["workstation_id"]},
        )
        assert refused.status_code == 404
    assert laptop.ok("info", "C20001").returncode == 0
    assert token_id(srv, "C20001") == annas


def test_revoke_needs_the_forms_csrf_token(demo_server: Server, workstation: Ws) -> None:
    srv, laptop = demo_server, workstation("laptop")
    link(laptop, srv, "C20001")
    annas = token_id(srv, "C20001")
    with Portal(srv).signed_in("anna") as anna:
        anna.get(anna.path("devices"))
        refused = anna.post(anna.path("devices", annas, "revoke"), csrf=False)
        assert refused.status_code == 403
        assert "nothing was changed" in text_of(refused.text)
        forged = anna.post(anna.path("devices", annas, "revoke"), {"csrf_token": "forged"})
        assert forged.status_code == 403
    with Portal(srv) as stranger:
        answer = stranger.post(stranger.path("devices", annas, "revoke"), csrf=False,
                               follow_redirects=False)  # fmt: skip
        assert answer.status_code == 303 and "/sign-in" in answer.headers["location"]
    assert laptop.ok("info", "C20001").returncode == 0
    assert token_id(srv, "C20001") == annas


def test_devices_only_show_this_portals_environments(demo_server: Server, workstation: Ws) -> None:
    # A second firm with its own portal, where anna is also a user: its tokens belong to
    # its portal's devices page, not to F10001's.
    srv, laptop = demo_server, workstation("laptop")
    srv.ok("env", "create", "F10002", "--name", "Other firm", "--kind", "firm")
    srv.ok("users", "add", "F10002", "anna")
    srv.ok("setup", "firm", "F10002")
    link(laptop, srv, "F10002", "C20001")
    other = token_id(srv, "F10002")
    with Portal(srv).signed_in("anna") as anna:
        found = rows(anna.get(anna.path("devices")).text)
        assert other not in found and len(found) == 1
        assert anna.post(anna.path("devices", other, "revoke")).status_code == 404
    with Portal(srv, "F10002").signed_in("anna") as there:
        assert set(rows(there.get(there.path("devices")).text)) == {other}
    assert laptop.ok("info", "F10002").returncode == 0
