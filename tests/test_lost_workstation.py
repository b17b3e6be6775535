"""A lost laptop is one action: ``koppel-admin tokens revoke --workstation NAME`` without an
environment revokes it in every environment (or a firm's), audited once per environment,
and the real agent is refused in each. Real server, real ``koppel-admin`` and ``koppel``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness import Server, Workstation

Ws = Callable[..., Workstation]

# Exit codes (koppel.agent.exit_codes, `koppel-admin --help`), spelled out: the tests pin them.
TOKEN_REVOKED = 5
USAGE, NOT_FOUND, REFUSED = 2, 4, 5


def link(ws: Workstation, server: Server, login: str, *codes: str) -> None:
    for code in codes:
        ws.ok("link", str(ws.save_settings(server, code, login)))


def active_tokens(srv: Server) -> list[tuple[str, str, str]]:
    listed = srv.ok("tokens", "list", "--json").json()["tokens"]
    return sorted((t["environment"], t["login"], t["workstation_name"]) for t in listed)


def revocations(srv: Server) -> list[dict[str, Any]]:
    entries = srv.ok("audit", "--action", "token.revoke", "--json").json()["entries"]
    return sorted(entries, key=lambda e: e["environment"])


def assert_refused_everywhere(ws: Workstation, *codes: str) -> None:
    for code in codes:
        answer = ws.koppel("info", code)
        assert answer.returncode == TOKEN_REVOKED, (code, answer.output)
        assert "revoked by its administrator" in answer.stderr, answer.stderr


def test_a_lost_laptop_is_revoked_everywhere_with_one_command(
    demo_server: Server, workstation: Ws
) -> None:
    srv = demo_server
    laptop, desktop = workstation("laptop"), workstation("desktop")
    link(laptop, srv, "anna", "F10001", "C20001", "C20002")
    link(desktop, srv, "anna", "C20001")
    # Another machine, bram's, goes by the same name.
    brams = workstation("laptop")
    link(brams, srv, "bram", "C20003")
    before = active_tokens(srv)

    preview = srv.ok(
        "tokens", "revoke", "--workstation", "laptop", "--user", "anna", "--dry-run", "--json"
    ).json()
    assert preview["changed"] is False and preview["dry_run"] is True
    assert preview["count"] == 3
    assert [(e["environment"], e["count"]) for e in preview["environments"]] == [
        ("C20001", 1),
        ("C20002", 1),
        ("F10001", 1),
    ]
    assert active_tokens(srv) == before and revocations(srv) == []
    laptop.ok("info", "C20001")

    done = srv.ok("tokens", "revoke", "--workstation", "laptop", "--user", "anna")
    lines = done.stdout.splitlines()
    assert lines[:3] == [
        "✓ C20001: 1 token (anna)",
        "✓ C20002: 1 token (anna)",
        "✓ F10001: 1 token (anna)",
    ]
    assert "3 tokens of laptop revoked in 3 environments (C20001, C20002, F10001)" in lines[3]
    assert "koppel link" in done.stdout

    # The server refuses the laptop's agent in each environment; the rest still work.
    assert_refused_everywhere(laptop, "F10001", "C20001", "C20002")
    desktop.ok("info", "C20001")
    brams.ok("info", "C20003")
    doctor = laptop.koppel("doctor", "--json").json()
    assert {e["environment"]: e["state"] for e in doctor["environments"]} == {
        "F10001": "token_revoked",
        "C20001": "token_revoked",
        "C20002": "token_revoked",
    }

    # Audited once per environment, with whose tokens and what was asked for.
    entries = revocations(srv)
    assert [e["environment"] for e in entries] == ["C20001", "C20002", "F10001"]
    for entry in entries:
        assert entry["actor"] == "cli:test-admin"
        assert entry["detail"]["logins"] == ["anna"]
        assert entry["detail"]["matched"] == "laptop"
        assert entry["detail"]["reason"] == "administrator"
        assert len(entry["detail"]["tokens"]) == 1

    # Again: nothing is left to revoke; that is not a failure, and nothing changes.
    again = srv.ok("tokens", "revoke", "--workstation", "laptop", "--user", "anna", "--json")
    assert again.json()["changed"] is False and again.json()["count"] == 0
    assert "Nothing to revoke" in again.json()["message"]
    assert len(revocations(srv)) == 3


def test_a_shared_name_revokes_every_users_workstation_and_says_so(
    demo_server: Server, workstation: Ws
) -> None:
    srv = demo_server
    annas, brams = workstation("laptop"), workstation("laptop")
    link(annas, srv, "anna", "C20001", "C20002")
    link(brams, srv, "bram", "C20001")
    ids = {
        t["login"]: t["workstation_id"]
        for t in srv.ok("tokens", "list", "C20001", "--json").json()["tokens"]
    }

    done = srv.ok("tokens", "revoke", "--workstation", "laptop", "--json").json()
    assert done["changed"] is True and done["count"] == 3 and done["login"] is None
    assert sorted(w["id"] for w in done["workstations"]) == sorted(ids.values())
    by_env = {e["environment"]: e for e in done["environments"]}
    assert sorted(by_env) == ["C20001", "C20002"]
    assert sorted(t["login"] for t in by_env["C20001"]["tokens"]) == ["anna", "bram"]
    assert by_env["C20002"]["count"] == 1
    assert_refused_everywhere(annas, "C20001", "C20002")
    assert_refused_everywhere(brams, "C20001")
    assert [e["detail"]["logins"] for e in revocations(srv)] == [["anna", "bram"], ["anna"]]

    # The text says that the name matched two workstations, and how to pick one.
    link(annas, srv, "anna", "C20003")
    link(brams, srv, "bram", "C20003")
    text = srv.ok("tokens", "revoke", "--workstation", "laptop", "--dry-run").stdout
    assert "· C20003: 2 tokens (anna, bram)" in text
    assert "would be revoked" in text and "That matched 2 workstations" in text
    assert "--user" in text and "Nothing was changed (--dry-run)" in text
    # A workstation id picks one machine.
    one = srv.ok("tokens", "revoke", "--workstation", ids["bram"], "--json").json()
    assert [t["login"] for e in one["environments"] for t in e["tokens"]] == ["bram"]
    annas.ok("info", "C20003")


def test_only_a_firm_and_its_clients(demo_server: Server, workstation: Ws) -> None:
    srv = demo_server
    srv.ok("env", "create", "F10002", "--name", "Other firm", "--kind", "firm")
    srv.ok("users", "add", "F10002", "anna")
    srv.ok("setup", "firm", "F10002")
    laptop = workstation("laptop")
    link(laptop, srv, "anna", "F10002", "C20001", "C20003")

    done = srv.ok("tokens", "revoke", "--workstation", "laptop", "--firm", "f10001", "--json")
    assert done.json()["firm"] == "F10001"
    assert [e["environment"] for e in done.json()["environments"]] == ["C20001", "C20003"]
    assert_refused_everywhere(laptop, "C20001", "C20003")
    laptop.ok("info", "F10002")
    assert {e["detail"].get("firm") for e in revocations(srv)} == {"F10001"}

    not_a_firm = srv.admin("tokens", "revoke", "--workstation", "laptop", "--firm", "C20001")
    assert not_a_firm.returncode == REFUSED
    assert "give the firm's environment code" in not_a_firm.stderr
    laptop.ok("info", "F10002")


def test_refusals_change_nothing(demo_server: Server, workstation: Ws) -> None:
    srv = demo_server
    laptop = workstation("LAPTOP-ANNA")
    link(laptop, srv, "anna", "C20001", "C20002")
    before = active_tokens(srv)

    # A name that matches no workstation: its own exit code and error code, similar names.
    typo = srv.admin("tokens", "revoke", "--workstation", "laptop-anna", "--json")
    assert typo.returncode == NOT_FOUND
    error = typo.json()["error"]
    assert error["code"] == "not_found"
    assert "No workstation named 'laptop-anna'" in error["message"]
    assert "Similar names: LAPTOP-ANNA" in error["message"]
    assert "nothing was revoked" in typo.stderr
    # Of a user who has no token there; of an unknown user; out of the firm's scope.
    brams = srv.admin("tokens", "revoke", "--workstation", "LAPTOP-ANNA", "--user", "bram")
    assert brams.returncode == NOT_FOUND and "has a token of bram on this server" in brams.stderr
    unknown = srv.admin("tokens", "revoke", "--workstation", "LAPTOP-ANNA", "--user", "zoe")
    assert unknown.returncode == NOT_FOUND and "no account 'zoe'" in unknown.stderr
    srv.ok("env", "create", "F10002", "--name", "Other firm", "--kind", "firm")
    outside = srv.admin("tokens", "revoke", "--workstation", "LAPTOP-ANNA", "--firm", "F10002")
    assert outside.returncode == NOT_FOUND and "in F10002 or its clients" in outside.stderr

    # Usage: nothing says what to revoke; --all-tokens needs an environment; --firm and
    # --dry-run go with the form without one.
    for args in (
        ("tokens", "revoke"),
        ("tokens", "revoke", "--user", "anna"),
        ("tokens", "revoke", "--all-tokens", "--workstation", "LAPTOP-ANNA"),
        ("tokens", "revoke", "C20001", "--workstation", "LAPTOP-ANNA", "--firm", "F10001"),
        ("tokens", "revoke", "C20001", "--workstation", "LAPTOP-ANNA", "--dry-run"),
    ):
        refused = srv.admin(*args, "--json")
        assert refused.returncode == USAGE, refused.output
        assert refused.json()["error"]["code"] == "validation_error"
        assert refused.stderr.startswith("error: ")

    assert active_tokens(srv) == before and revocations(srv) == []
    laptop.ok("info", "C20001")

    # The help says that a name is not unique, and what the form without environment does.
    shown = " ".join(srv.ok("tokens", "revoke", "--help").stdout.split())
    assert "every user's workstation of that name is revoked" in shown
    assert "in every environment" in shown

    # The form with an environment works as before.
    one = srv.ok("tokens", "revoke", "C20001", "--workstation", "LAPTOP-ANNA")
    assert one.stdout.startswith("✓ 1 token revoked in C20001")
    assert_refused_everywhere(laptop, "C20001")
    laptop.ok("info", "C20002")
