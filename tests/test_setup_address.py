"""Where the agents' address comes from, and a database that must exist (issue 10, items 1
and 7): the real ``koppel-server`` on a non-default port, the real ``koppel-admin`` with
no address of its own, and ``check`` probing each recorded address."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from admin_in_process import run_admin
from harness import Result, Server, free_port, make_server

PASSWORD = "correct-horse-1"


def _server_without_address(tmp_path: Path) -> Server:
    """A server that knows its address only from where it listens (no KOPPEL_PUBLIC_URL),
    and a ``koppel-admin`` beside it that is told no address either."""
    server = make_server(tmp_path, process=True)
    del server.env["KOPPEL_PUBLIC_URL"]
    return server


def _practice(server: Server) -> None:
    """A firm with one employee and one client, set up with the commands the README names
    (run in this process: they arrange; what is tested runs the real executables)."""

    def arrange(*args: str) -> None:
        result = run_admin(server.env, server.data_dir, *args)
        assert result.returncode == 0, result.output

    arrange("accounts", "create", "anna", "--password", PASSWORD)
    arrange("env", "create", "F50001", "--name", "Dekker", "--kind", "firm")
    arrange("users", "add", "F50001", "anna")
    arrange("setup", "firm", "F50001")
    csv = server.data_dir.parent / f"destinations-{server.port}.csv"
    csv.write_text("code,name,kind\nORG,Dekker,organisation\n")
    arrange("destinations", "import", "F50001", str(csv))
    arrange("item-types", "create", "F50001", "Invoice")
    arrange("template", "copy-from", "F50001", "F50001")
    arrange("env", "create", "C60001", "--name", "Jansen", "--kind", "client", "--firm", "F50001")
    arrange("setup", "client", "C60001", "--firm", "F50001", "--user", "anna")


def _env(server: Server, code: str) -> dict[str, Any]:
    shown: dict[str, Any] = server.ok("env", "show", code, "--json").json()["environment"]
    return shown


def _steps(result: Result, code: str) -> dict[str, dict[str, Any]]:
    (env,) = [e for e in result.json()["environments"] if e["code"] == code]
    return {s["key"]: s for s in env["steps"]}


def test_setup_records_the_address_the_server_serves_on(tmp_path: Path) -> None:
    server = _server_without_address(tmp_path).start()
    try:
        _practice(server)
        for code in ("F50001", "C60001"):
            shown = _env(server, code)
            assert shown["api_url"] == server.url, shown
            assert shown["main_site_url"] == f"{server.url}/portal/F50001", shown
        check = server.admin("check", "--all", "--json")
        assert check.returncode == 0, check.output
        assert _steps(check, "C60001")["api-url"]["detail"].endswith("(answers as this server)")
    finally:
        server.stop()


def test_a_moved_server_is_caught_by_check_and_followed_by_setup(tmp_path: Path) -> None:
    server = _server_without_address(tmp_path).start()
    try:
        _practice(server)
        old = server.url
        server.stop()
        server.move_to(free_port())
        server.start()
        log = server.log.read_text()
        assert f"address changed from {old} to {server.url}" in log
        assert "2 environments record another address" in log

        check = server.admin("check", "--all", "--json")
        assert check.returncode == 3, check.output
        firm = _steps(check, "F50001")
        assert not firm["api-url"]["done"]
        assert firm["api-url"]["fix"] == f"koppel-admin env set-api-url F50001 {server.url}"
        assert not firm["main-site"]["done"]
        assert server.url in firm["main-site"]["fix"]

        # Re-running the set-up records the server's new address, main sites included.
        redone = server.ok("setup", "firm", "F50001").stdout
        assert f"API URL of F50001 changed from {old} to {server.url}" in redone
        # Set up again, a client needs no --user: it keeps the employees it has.
        server.ok("setup", "client", "C60001", "--firm", "F50001")
        assert _env(server, "C60001")["main_site_url"] == f"{server.url}/portal/F50001"
        assert server.admin("check", "--all").returncode == 0
        assert "employees linked at the old address save their settings again" in log
    finally:
        server.stop()


def test_check_fails_an_address_that_does_not_answer_as_this_server(tmp_path: Path) -> None:
    server = _server_without_address(tmp_path).start()
    other = make_server(tmp_path).start()  # another Koppel server: it only has to answer
    try:
        _practice(server)
        # Nothing answers: a port nobody listens on.
        nowhere = f"http://127.0.0.1:{free_port()}"
        server.ok("env", "set-api-url", "C60001", nowhere)
        # Another Koppel server answers, but not this one: an explicit --public-url
        # pointing there is recorded as asked, and the probe tells it apart.
        server.ok("--public-url", other.url, "setup", "firm", "F50001")
        assert _env(server, "F50001")["api_url"] == other.url

        check = server.admin("--public-url", other.url, "check", "--all", "--json")
        assert check.returncode == 3, check.output
        firm, client = _steps(check, "F50001"), _steps(check, "C60001")
        assert "answers as another Koppel server" in firm["api-url"]["detail"]
        assert not client["api-url"]["done"]
        text = server.admin("check", "C60001").output
        assert f"{nowhere} is not this server's address {server.url}" in text
        assert f"fix: koppel-admin env set-api-url C60001 {server.url}" in text

        # With the server's own address everything answers again.
        server.ok("setup", "firm", "F50001")
        server.ok("env", "set-api-url", "C60001", server.url)
        assert server.admin("check", "--all").returncode == 0
        # Skipping the probe is possible, and said.
        skipped = server.admin("check", "F50001", "--no-probe", "--json")
        assert _steps(skipped, "F50001")["api-url"]["detail"].endswith("(not probed)")
    finally:
        other.stop()
        server.stop()


def test_an_address_of_every_interface_is_no_address_for_agents(tmp_path: Path) -> None:
    server = _server_without_address(tmp_path).start()
    try:
        _practice(server)
        # What a server listening on every interface would have announced before.
        server.ok("env", "set-api-url", "C60001", f"http://0.0.0.0:{server.port}")
        check = server.admin("check", "C60001", "--json")
        assert check.returncode == 3, check.output
        step = _steps(check, "C60001")["api-url"]
        assert not step["done"] and "not an address another computer can use" in step["detail"]
    finally:
        server.stop()


def test_a_server_on_every_interface_announces_the_computers_name() -> None:
    from koppel.server.config import ServerSettings

    for wildcard in ("0.0.0.0", "::"):
        settings = ServerSettings(host=wildcard, port=8093, public_url=None)
        assert settings.resolved_public_url == f"http://{socket.gethostname()}:8093"
    assert ServerSettings(host="127.0.0.1", port=8093, public_url=None).resolved_public_url == (
        "http://127.0.0.1:8093"
    )


def test_the_address_answering_nothing_is_a_failure_with_what_to_do(tmp_path: Path) -> None:
    server = _server_without_address(tmp_path).start()
    try:
        _practice(server)
    finally:
        server.stop()
    stopped = server.admin("check", "F50001")
    assert stopped.returncode == 3, stopped.output
    assert "does not answer" in stopped.output
    assert "Start koppel-server if it is stopped" in stopped.output


def _admin(data_dir: Path, *args: str, stdin: str | None = None) -> Result:
    """``koppel-admin`` given only a data folder (in this process: its refusals and
    messages are the point here; test_setup_walkthrough runs the executable)."""
    env = {"KOPPEL_DATA_DIR": str(data_dir), "KOPPEL_ACTOR": "test-admin"}
    return run_admin(env, data_dir.parent, *args, stdin=stdin)


def test_koppel_admin_never_creates_a_database(tmp_path: Path) -> None:
    typo = tmp_path / "koppel-dat"
    for args in (("check", "--all"), ("env", "list"), ("accounts", "create", "anna",
                 "--password", PASSWORD), ("db", "upgrade"), ("db", "status")):  # fmt: skip
        refused = _admin(typo, *args)
        assert refused.returncode == 4, refused.output
        assert f"no Koppel database at {typo / 'koppel.sqlite3'}" in refused.stderr
        assert "check --data-dir (KOPPEL_DATA_DIR)" in refused.stderr
        assert "koppel-admin db init" in refused.stderr
    assert not typo.exists()
    as_json = _admin(typo, "env", "list", "--json")
    assert as_json.json()["error"]["code"] == "database_missing"

    made = _admin(typo, "db", "init")
    assert made.returncode == 0 and "created" in made.stdout, made.output
    again = _admin(typo, "db", "init", "--json")
    assert again.returncode == 0 and again.json()["changed"] is False, again.output

    # An empty database is not "0 of 0 complete".
    empty = _admin(typo, "check", "--all")
    assert empty.returncode == 3, empty.output
    assert "this database holds no environments" in empty.stderr
    assert str(typo / "koppel.sqlite3") in empty.stderr
    assert _admin(typo, "check", "--all", "--json").json()["complete"] is False


def test_setup_refuses_to_guess_the_address(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert _admin(data_dir, "db", "init").returncode == 0
    assert _admin(data_dir, "accounts", "create", "anna", "--password", PASSWORD).returncode == 0
    assert _admin(data_dir, "env", "create", "F50001", "--kind", "firm").returncode == 0
    assert _admin(data_dir, "users", "add", "F50001", "anna").returncode == 0
    before = _admin(data_dir, "audit", "--json").json()["entries"]

    refused = _admin(data_dir, "setup", "firm", "F50001", "--json")
    assert refused.returncode == 5, refused.output
    assert refused.json()["error"]["code"] == "address_unknown"
    assert "start `koppel-server` once" in refused.stderr
    assert _admin(data_dir, "audit", "--json").json()["entries"] == before

    # The server's first start records its address; setup then takes it.
    server = Server(data_dir, free_port(), _admin_env(data_dir))
    server.start()
    try:
        assert _admin(data_dir, "setup", "firm", "F50001").returncode == 0
        shown = _admin(data_dir, "env", "show", "F50001", "--json").json()["environment"]
        assert shown["api_url"] == server.url
    finally:
        server.stop()


def _admin_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KOPPEL_", "XDG_"))}
    env.update(KOPPEL_DATA_DIR=str(data_dir), KOPPEL_HOST="127.0.0.1")
    return env
