"""Linking a workstation to a firm and its clients, end to end: real server, real agent."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import httpx

from backends import both_backends
from harness import Server, Workstation

Ws = Callable[..., Workstation]

# Exit codes of the agent (koppel.agent.exit_codes), spelled out: the tests pin the contract.
PROBLEMS, TOKEN_REVOKED, UPDATE_MISMATCH, REFUSED, INVALID_SETTINGS = 3, 5, 6, 7, 8


def tokens_of(ws: Workstation) -> dict[str, str]:
    """The tokens in the workstation's 0600 file store, by environment code."""
    data = json.loads((ws.home / ".local/share/koppel/tokens.json").read_text())
    return {key.split("|")[1]: token for key, token in data["tokens"].items()}


def linked_codes(ws: Workstation) -> list[str]:
    return sorted(env["code"] for env in ws.ok("envs", "--json").json())


def _database_bytes(server: Server) -> bytes:
    """Everything the server's database holds: the SQLite file, or on PostgreSQL every
    row of every table."""
    url = server.env.get("KOPPEL_DATABASE_URL")
    if url is None:
        return (server.data_dir / "koppel.sqlite3").read_bytes()
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            tables = sqlalchemy.inspect(conn).get_table_names()
            rows = [
                repr(conn.execute(sqlalchemy.text(f'SELECT * FROM "{t}"')).all()) for t in tables
            ]
    finally:
        engine.dispose()
    assert len("".join(rows)) > 10_000  # the rows were read, not only the table names
    return "".join(rows).encode()


@both_backends
def test_firm_then_clients_through_the_bundle(demo_server: Server, workstation: Ws) -> None:
    ws = workstation("laptop")
    firm = ws.save_settings(demo_server, "F10001", "anna")
    first = ws.ok("link", str(firm), "--json").json()
    assert first["linked"] == ["F10001"]
    assert linked_codes(ws) == ["F10001"]

    bundle = ws.save_settings(demo_server, "F10001", "anna", bundle=True)
    assert len(json.loads(bundle.read_text())["settings"]) == 3
    result = ws.ok("link", str(bundle), "--json").json()
    assert sorted(result["linked"]) == ["C20001", "C20002", "C20003"]

    envs = {env["code"]: env for env in ws.ok("envs", "--json").json()}
    assert sorted(envs) == ["C20001", "C20002", "C20003", "F10001"]
    assert envs["C20002"]["kind"] == "client" and envs["C20002"]["login"] == "anna"
    assert {env["update"] for env in envs.values()} == {"2026.2"}
    assert {env["server"] for env in envs.values()} == {demo_server.url}

    doctor = ws.ok("doctor", "--json").json()
    assert doctor["ok"] and doctor["checked"] == 4
    table = ws.ok("envs").stdout
    assert "Bakkerij Jansen" in table and "LAST CHECK" in table

    # Tokens: recognisable prefix, 256-bit secret, stored on the server only as a hash.
    tokens = tokens_of(ws)
    assert all(t.startswith("kplt_") and len(t.split("_", 2)[2]) >= 43 for t in tokens.values())
    raw = _database_bytes(demo_server)
    for token in tokens.values():
        assert token.split("_", 2)[2].encode() not in raw
    mode = (ws.home / ".local/share/koppel/tokens.json").stat().st_mode & 0o777
    assert mode == 0o600


def test_file_store_warning_is_shown_once(demo_server: Server, workstation: Ws) -> None:
    ws = workstation()
    first = ws.ok("link", str(ws.save_settings(demo_server, "F10001", "anna")))
    assert "keychain" in first.stderr.lower()
    second = ws.ok("link", str(ws.save_settings(demo_server, "C20001", "anna")))
    assert "keychain" not in second.stderr.lower()


def test_tokens_go_to_the_keychain_when_one_exists(
    demo_server: Server, workstation: Ws, tmp_path: Path
) -> None:
    # keyrings.alt's file keyring is a real keyring backend that works without a desktop.
    ws = workstation(
        PYTHON_KEYRING_BACKEND="keyrings.alt.file.PlaintextKeyring",
    )
    ws.ok("link", str(ws.save_settings(demo_server, "F10001", "anna")))
    assert not (ws.home / ".local/share/koppel/tokens.json").exists()
    env = ws.ok("envs", "--json").json()[0]
    assert env["token_store"] == "keyring"
    assert ws.ok("doctor", "--json").json()["ok"]


def test_settings_refusals(demo_server: Server, workstation: Ws) -> None:
    srv, ws = demo_server, workstation()
    srv.ok("accounts", "create", "carla", "--name", "Carla", "--password", "carla-pass-1")

    def refused(env: str, login: str, password: str, *, bundle: bool = False) -> str:
        args = ["settings", "download", "--server", srv.url, "--env", env, "--login", login]
        result = ws.koppel(*args, *(["--bundle"] if bundle else []), "--json")
        assert result.returncode != 0, result.output
        return str(result.json()["error"]["code"])

    env = dict(ws.env)
    ws.env = dict(env, KOPPEL_PASSWORD="wrong-password")
    assert refused("F10001", "anna", "x") == "invalid_credentials"
    ws.env = dict(env, KOPPEL_PASSWORD="carla-pass-1")
    assert refused("F10001", "carla", "x") == "not_a_member"
    srv.ok("users", "add", "F10001", "carla")
    assert refused("F10001", "carla", "x") == "not_authorized"
    assert refused("F99999", "carla", "x") == "not_a_member"  # as for a real one not hers
    srv.ok("users", "authorize", "F10001", "carla", "--function", "Save settings")
    srv.ok("connector", "block", "F10001")
    result = ws.koppel(
        "settings", "download", "--server", srv.url, "--env", "F10001", "--login", "carla"
    )
    assert result.returncode == REFUSED
    assert "App connector is blocked" in result.stderr
    srv.ok("connector", "unblock", "F10001")
    srv.ok("accounts", "disable", "carla")
    assert refused("F10001", "carla", "x") == "account_disabled"
    srv.ok("accounts", "enable", "carla")
    # A client without a main site: its settings cannot be saved yet.
    srv.ok("env", "create", "C20009", "--name", "Nieuw", "--kind", "client", "--firm", "F10001")
    srv.ok("users", "add", "C20009", "carla")
    srv.ok("users", "authorize", "C20009", "carla", "--function", "Save settings")
    srv.ok("connector", "unblock", "C20009")
    assert refused("C20009", "carla", "x") == "main_site_missing"
    # None of these refusals issued anything: no settings file was written.
    assert not list(ws.home.glob("*.koppel"))


def test_enrollment_is_single_use_and_tamper_evident(demo_server: Server, workstation: Ws) -> None:
    laptop, desktop = workstation("laptop"), workstation("desktop")
    settings = laptop.save_settings(demo_server, "C20001", "anna")
    copy = desktop.home / "copy.koppel"
    copy.write_text(settings.read_text())
    laptop.ok("link", str(settings))
    again = desktop.koppel("link", str(copy), "--json")
    assert again.returncode == INVALID_SETTINGS
    assert again.json()["error"]["code"] == "enrollment_used"
    assert "already used" in again.stderr

    altered = laptop.save_settings(demo_server, "C20002", "anna")
    document = json.loads(altered.read_text())
    document["environment"]["name"] = "Somebody else"
    altered.write_text(json.dumps(document))
    tampered = laptop.koppel("link", str(altered), "--json")
    assert tampered.returncode == INVALID_SETTINGS
    assert tampered.json()["error"]["code"] == "settings_tampered"
    assert linked_codes(laptop) == ["C20001"]

    garbage = laptop.home / "garbage.koppel"
    garbage.write_text("not json at all")
    assert laptop.koppel("link", str(garbage)).returncode == INVALID_SETTINGS


def test_expired_settings_file(tmp_path: Path, workstation: Ws) -> None:
    from harness import make_server

    srv = make_server(tmp_path)
    srv.env["KOPPEL_ENROLLMENT_TTL_MINUTES"] = "0.02"  # 1.2 s
    srv.start("--demo")
    try:
        ws = workstation()
        settings = ws.save_settings(srv, "F10001", "anna")
        import time

        time.sleep(2)
        result = ws.koppel("link", str(settings), "--json")
        assert result.returncode == INVALID_SETTINGS
        assert result.json()["error"]["code"] == "enrollment_expired"
        assert "expired" in result.stderr
        assert ws.ok("envs", "--json").json() == []
    finally:
        srv.stop()


def test_all_or_nothing_across_files(demo_server: Server, workstation: Ws) -> None:
    ws = workstation()
    good = ws.save_settings(demo_server, "C20001", "anna")
    used = ws.save_settings(demo_server, "C20002", "anna")
    other = workstation("other")
    other.ok("link", str(used))
    result = ws.koppel("link", str(good), str(used))
    assert result.returncode == INVALID_SETTINGS
    assert "Nothing was linked" in result.output or "nothing" in result.output.lower()
    assert linked_codes(ws) == []
    # The good file was not consumed by the failed attempt: it still links.
    ws.ok("link", str(good))
    assert linked_codes(ws) == ["C20001"]


def test_mismatched_update_is_refused(demo_server: Server, workstation: Ws) -> None:
    srv, ws = demo_server, workstation()
    srv.ok(
        "env",
        "create",
        "C20010",
        "--name",
        "Oud",
        "--kind",
        "client",
        "--update",
        "2026.1",
        "--firm",
        "F10001",
    )
    srv.ok("setup", "client", "C20010", "--firm", "F10001", "--user", "anna")
    old = ws.save_settings(srv, "C20010", "anna")
    good = ws.save_settings(srv, "C20001", "anna")
    result = ws.koppel("link", str(good), str(old), "--json")
    assert result.returncode == UPDATE_MISMATCH
    assert "2026.1" in result.stderr and "2026.2" in result.stderr
    assert linked_codes(ws) == []
    # The bundle now holds an environment of the other update: all or nothing.
    bundle = ws.save_settings(srv, "F10001", "anna", bundle=True)
    assert ws.koppel("link", str(bundle)).returncode == UPDATE_MISMATCH
    assert linked_codes(ws) == []


def test_revocation_reaches_the_next_command(demo_server: Server, workstation: Ws) -> None:
    srv, ws = demo_server, workstation("laptop")
    ws.ok("link", str(ws.save_settings(srv, "C20001", "anna")))
    ws.ok("link", str(ws.save_settings(srv, "C20002", "anna")))
    listed = srv.ok("tokens", "list", "C20001", "--json").json()["tokens"]
    assert len(listed) == 1
    srv.ok("tokens", "revoke", "C20001", "--user", "anna")

    info = ws.koppel("info", "C20001")
    assert info.returncode == TOKEN_REVOKED
    assert "revoked by its administrator" in info.stderr
    assert "koppel link" in info.stderr
    assert ws.ok("info", "C20002").returncode == 0

    doctor = ws.koppel("doctor", "--json")
    assert doctor.returncode == PROBLEMS
    states = {e["environment"]: e for e in doctor.json()["environments"]}
    assert states["C20001"]["state"] == "token_revoked"
    assert "koppel link" in states["C20001"]["fix"]
    assert states["C20002"]["state"] == "ok"

    audit = srv.ok("audit", "--env", "C20001", "--json").json()["entries"]
    assert any(entry["action"] == "token.revoke" for entry in audit)


def test_relinking_replaces_the_token(demo_server: Server, workstation: Ws) -> None:
    srv, ws = demo_server, workstation("laptop")
    ws.ok("link", str(ws.save_settings(srv, "C20001", "anna")))
    old = tokens_of(ws)["C20001"]
    relinked = ws.ok("link", str(ws.save_settings(srv, "C20001", "anna")), "--json").json()
    assert relinked["replaced"] == ["C20001"]
    new = tokens_of(ws)["C20001"]
    assert new != old
    active = srv.ok("tokens", "list", "C20001", "--json").json()["tokens"]
    assert len(active) == 1
    answer = httpx.get(
        f"{srv.url}/api/v1/environments/C20001/me",
        headers={"Authorization": f"Bearer {old}", "Koppel-Update": "2026.2"},
    )
    assert answer.status_code == 401
    assert answer.json()["code"] == "token_revoked"
    assert "replaced" in answer.json()["message"]
    assert ws.ok("info", "C20001").returncode == 0


def test_two_workstations_of_one_user(demo_server: Server, workstation: Ws) -> None:
    srv = demo_server
    laptop, desktop = workstation("laptop"), workstation("desktop")
    laptop.ok("link", str(laptop.save_settings(srv, "C20001", "anna")))
    desktop.ok("link", str(desktop.save_settings(srv, "C20001", "anna")))
    tokens = srv.ok("tokens", "list", "C20001", "--json").json()["tokens"]
    assert len(tokens) == 2
    srv.ok("tokens", "revoke", "C20001", "--workstation", "laptop")
    assert laptop.koppel("info", "C20001").returncode == TOKEN_REVOKED
    assert desktop.ok("info", "C20001").returncode == 0


def test_a_token_works_only_for_its_own_environment(demo_server: Server, workstation: Ws) -> None:
    srv, ws = demo_server, workstation()
    ws.ok("link", str(ws.save_settings(srv, "F10001", "anna", bundle=True)))
    tokens = tokens_of(ws)
    headers = {"Koppel-Update": "2026.2"}
    for owner, token in tokens.items():
        for other in tokens:
            answer = httpx.get(
                f"{srv.url}/api/v1/environments/{other}/me",
                headers={**headers, "Authorization": f"Bearer {token}"},
            )
            if other == owner:
                assert answer.status_code == 200
            else:
                assert answer.status_code == 403
                assert answer.json()["code"] == "token_wrong_environment"
    # And in the bulk status call, too.
    status = httpx.post(
        f"{srv.url}/api/v1/status",
        headers=headers,
        json={"environments": [{"environment": "C20002", "token": tokens["C20001"]}]},
    ).json()
    assert status["statuses"][0]["state"] == "token_wrong_environment"


def test_unlink_revokes_on_the_server(demo_server: Server, workstation: Ws) -> None:
    srv, ws = demo_server, workstation()
    ws.ok("link", str(ws.save_settings(srv, "F10001", "anna", bundle=True)))
    token = tokens_of(ws)["C20003"]
    ws.ok("unlink", "C20003")
    assert linked_codes(ws) == ["C20001", "C20002"]
    assert "C20003" not in tokens_of(ws)
    answer = httpx.get(
        f"{srv.url}/api/v1/environments/C20003/me",
        headers={"Authorization": f"Bearer {token}", "Koppel-Update": "2026.2"},
    )
    assert answer.json()["code"] == "token_revoked"
    assert ws.koppel("unlink", "C20003").returncode == 9  # not linked here any more


def test_blocked_connector_and_missing_authorization_show_in_doctor(
    demo_server: Server, workstation: Ws
) -> None:
    srv, ws = demo_server, workstation()
    ws.ok("link", str(ws.save_settings(srv, "F10001", "anna", bundle=True)))
    srv.ok("connector", "block", "C20001")
    srv.ok("users", "unauthorize", "C20002", "anna", "--function", "My files")
    result = ws.koppel("doctor", "--json")
    assert result.returncode == PROBLEMS
    states = {e["environment"]: e for e in result.json()["environments"]}
    assert states["C20001"]["state"] == "connector_blocked"
    assert states["C20002"]["state"] == "not_authorized"
    assert "My files" in states["C20002"]["message"]
    assert states["C20003"]["state"] == "ok"
    blocked = ws.koppel("info", "C20001")
    assert blocked.returncode == REFUSED and "blocked" in blocked.stderr


def test_unreachable_server_is_reported(tmp_path: Path, workstation: Ws) -> None:
    from harness import make_server

    srv = make_server(tmp_path).start("--demo")
    ws = workstation()
    ws.ok("link", str(ws.save_settings(srv, "F10001", "anna")))
    srv.stop()
    doctor = ws.koppel("doctor", "--json")
    assert doctor.returncode == PROBLEMS
    assert doctor.json()["environments"][0]["state"] == "unreachable"
    assert ws.koppel("info", "F10001").returncode == 4


def test_the_server_database_holds_no_plain_enrollment_codes(
    demo_server: Server, workstation: Ws
) -> None:
    ws = workstation()
    settings = json.loads(ws.save_settings(demo_server, "F10001", "anna").read_text())
    secret = settings["enrollment"]["code"].split("_", 2)[2]
    with sqlite3.connect(demo_server.data_dir / "koppel.sqlite3") as db:
        hashes = [row[0] for row in db.execute("select secret_hash from enrollments")]
    assert secret not in hashes and all(len(h) == 64 for h in hashes)


def test_an_expired_token_is_refused_as_revoked(tmp_path: Path, workstation: Ws) -> None:
    from harness import make_server

    srv = make_server(tmp_path)
    srv.env["KOPPEL_TOKEN_LIFETIME_DAYS"] = "0.00003"  # about 2.6 s
    srv.start("--demo")
    try:
        ws = workstation()
        ws.ok("link", str(ws.save_settings(srv, "F10001", "anna")))
        import time

        time.sleep(3)
        result = ws.koppel("info", "F10001")
        assert result.returncode == TOKEN_REVOKED
        assert "expired" in result.stderr
    finally:
        srv.stop()


def test_last_used_is_recorded_to_the_minute(demo_server: Server, workstation: Ws) -> None:
    # Every request used to write last_used_at (an fsync each); now a use is recorded
    # when the recorded one is a minute old or there is none, by /me and /status alike.
    srv, ws = demo_server, workstation()
    ws.ok("link", str(ws.save_settings(srv, "F10001", "anna")))
    token = tokens_of(ws)["F10001"]
    public_id = token.split("_")[1]
    database = srv.data_dir / "koppel.sqlite3"
    auth = {"Koppel-Update": "2026.2", "Authorization": f"Bearer {token}"}

    def last_used() -> str | None:
        with sqlite3.connect(database) as db:
            (value,) = db.execute(
                "SELECT last_used_at FROM user_tokens WHERE public_id = ?", (public_id,)
            ).fetchone()
        return value if value is None else str(value)

    def set_last_used(value: str) -> None:
        with sqlite3.connect(database) as db:
            db.execute(
                "UPDATE user_tokens SET last_used_at = ? WHERE public_id = ?", (value, public_id)
            )

    me = f"{srv.url}/api/v1/environments/F10001/me"
    assert httpx.get(me, headers=auth).status_code == 200
    first = last_used()
    assert first is not None
    assert httpx.get(me, headers=auth).status_code == 200
    assert last_used() == first  # within the minute: no write

    set_last_used("2000" + first[4:])
    assert httpx.get(me, headers=auth).status_code == 200
    assert last_used() is not None and last_used() != "2000" + first[4:]

    set_last_used("2000" + first[4:])
    status = httpx.post(
        f"{srv.url}/api/v1/status",
        headers={"Koppel-Update": "2026.2"},
        json={"environments": [{"environment": "F10001", "token": token}]},
    ).json()
    assert status["statuses"][0]["state"] == "ok"
    assert not str(last_used()).startswith("2000")
