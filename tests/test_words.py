"""The words of the messages, through the real ``koppel`` and ``koppel-admin`` against a
real server: a hint said once, "1 minute" and never "1 minutes" or "minute(s)", the
administrator given the command rather than told to ask an administrator, an interrupted
prompt reported as such (exit 130, nothing changed), and flags shown without a value in
every command's ``--help``."""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

from harness import BIN, DEMO_PASSWORD, Server, Workstation, make_server, run
from portal_client import Portal, text_of
from terminal import CTRL_C, CTRL_D, at_terminal

Ws = Callable[..., Workstation]
ROOT = Path(__file__).resolve().parents[1]
TOKEN_REVOKED, INTERRUPTED, USAGE, NOT_FOUND, REFUSED = 5, 130, 2, 4, 5
# "1 minutes", "1 environments", "1 tokens": a count of one with a plural noun.
ONE_PLURAL = re.compile(r"(?<![\d.,])1 (?:more )?(?!bytes)[a-z]+s\b")


def test_a_revoked_link_says_once_how_to_link_again(demo_server: Server, workstation: Ws) -> None:
    srv, ws = demo_server, workstation("laptop")
    ws.ok("link", str(ws.save_settings(srv, "F10001", "anna")))
    srv.ok("tokens", "revoke", "F10001", "--user", "anna")
    for command in (["info", "F10001"], ["items", "--env", "F10001"], ["files", "--env", "F10001"]):
        result = ws.koppel(*command)
        assert result.returncode == TOKEN_REVOKED, result.output
        assert "revoked by its administrator" in result.stderr
        assert result.stderr.count("koppel link") == 1, result.stderr
        assert result.stderr.count("link it again") == 1, result.stderr


@pytest.fixture
def one_minute_server(tmp_path: Path) -> Iterator[Server]:
    """The demo practice with settings files that work for one minute."""
    srv = make_server(tmp_path)
    srv.env["KOPPEL_ENROLLMENT_TTL_MINUTES"] = "1"
    srv.start("--demo")
    try:
        yield srv
    finally:
        srv.stop()


def test_one_of_a_thing_is_singular(one_minute_server: Server, workstation: Ws) -> None:
    srv, ws = one_minute_server, workstation("laptop")
    settings = ws.home / "C20001.koppel"
    saved = run(
        [str(BIN / "koppel"), "settings", "download", "--server", srv.url, "--env", "C20001",
         "--login", "anna", "-o", str(settings)],
        dict(ws.env, KOPPEL_PASSWORD=DEMO_PASSWORD), ws.home,
    )  # fmt: skip
    linked = ws.koppel("link", str(settings))
    revoked = srv.admin("tokens", "revoke", "C20001", "--user", "anna")
    with Portal(srv).signed_in("anna") as anna:
        page = text_of(anna.get(anna.path("environments/F10001")).text)
    messages = {
        "settings download": saved.output,
        "link": linked.output,
        "tokens revoke": revoked.output,
        "portal": page,
    }
    assert "Saved the settings of 1 environment." in saved.output
    assert "Linked 1 environment (0 replaced)." in linked.output
    assert "✓ 1 token revoked in C20001" in revoked.output
    assert "within 1 minute of the download" in page
    for where, text in messages.items():
        assert not ONE_PLURAL.search(text), (where, ONE_PLURAL.search(text), text)
        assert "(s)" not in text.replace("http(s)", ""), (where, text)


def _texts(path: Path) -> Iterator[tuple[int, str]]:
    """The texts people may read in a source file: its string literals (a template whole)."""
    source = path.read_text(encoding="utf-8")
    if path.suffix == ".html":
        yield 1, source
        return
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.STRING:
            yield token.start[0], token.string


def test_no_message_hedges_a_plural_with_s_in_brackets() -> None:
    # Every count goes through koppel.protocol.counts; "(s)" is what it replaced.
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text.strip()[:100]}"
        for path in sorted((ROOT / "src").rglob("*"))
        if path.suffix in (".py", ".html")
        for line, text in _texts(path)
        if re.search(r"[a-z]\(s\)", text.replace("http(s)", ""))
    ]
    assert not found, "\n".join(found)


def test_koppel_admin_gives_the_administrator_the_command(server: Server, tmp_path: Path) -> None:
    server.ok("env", "create", "F10001", "--name", "Dekker & Co", "--kind", "firm")
    for command in (
        ["env", "show", "F99999"],
        ["users", "add", "F99999", "anna"],
        ["tokens", "list", "F99999"],
        ["connector", "unblock", "F99999"],
    ):
        result = server.admin(*command)
        assert result.returncode == NOT_FOUND, result.output
        assert "administrator" not in result.stderr, result.stderr
        assert "`koppel-admin env list`" in result.stderr, result.stderr
        as_json = server.admin(*command, "--json")
        assert "administrator" not in as_json.stdout and "koppel-admin env list" in as_json.stdout

    server.admin("accounts", "create", "anna", "--password-stdin", stdin=DEMO_PASSWORD + "\n")
    server.ok("users", "add", "F10001", "anna")
    program = tmp_path / "setup.exe"
    program.write_bytes(b"MZ")
    refused = server.admin("files", "publish", "F10001", "anna", str(program))
    assert refused.returncode == REFUSED, refused.output
    assert "administrator" not in refused.stderr, refused.stderr
    assert "allow them: `koppel-admin extensions allow F10001 exe`" in refused.stderr


def _accounts(server: Server) -> set[str]:
    listed = server.ok("accounts", "list", "--json").json()["accounts"]
    return {a["login"] for a in listed}


@pytest.mark.parametrize("keys", [CTRL_C, CTRL_D], ids=["ctrl-c", "end-of-input"])
def test_an_interrupted_password_prompt_changes_nothing(server: Server, keys: bytes) -> None:
    server.admin("accounts", "create", "anna", "--password-stdin", stdin="first-password-1\n")
    admin = str(BIN / "koppel-admin")
    for command in (["accounts", "create", "zoe"], ["accounts", "set-password", "anna"]):
        # "Password: ": the space comes from getpass, after it flushed pending input.
        shown = at_terminal(
            [admin, *command], server.env, server.data_dir, prompt="Password: ", keys=keys
        )
        assert shown.returncode == INTERRUPTED, shown.screen
        assert "interrupted; nothing was changed." in shown.screen
        assert "unexpected" not in shown.screen and "Abort" not in shown.screen
    assert _accounts(server) == {"anna"}
    # anna's password is still the first one: she can still save settings with it.
    audit = server.ok("audit", "--json").json()["entries"]
    assert not [e for e in audit if e["action"].startswith("account.password")]


def test_conflicting_password_options_are_a_usage_error(server: Server) -> None:
    both = server.admin(
        "accounts", "create", "zoe", "--password-stdin", "--password", "x", stdin="y\n"
    )
    assert both.returncode == USAGE, both.output
    assert "unexpected" not in both.stderr and "--password" in both.stderr
    assert _accounts(server) == set()


@pytest.mark.parametrize("keys", [CTRL_C, CTRL_D], ids=["ctrl-c", "end-of-input"])
def test_an_interrupted_choice_of_environment_changes_nothing(
    demo_server: Server, workstation: Ws, keys: bytes
) -> None:
    ws = workstation("laptop")
    ws.ok("link", str(ws.save_settings(demo_server, "F10001", "anna", bundle=True)))
    asked = at_terminal(
        [str(BIN / "koppel"), "items"], ws.env, ws.home, prompt="Environment", keys=keys
    )
    assert asked.returncode == INTERRUPTED, asked.screen
    assert "Interrupted; nothing was changed." in asked.screen
    assert "Aborted" not in asked.screen


def _commands(app: typer.Typer) -> Iterator[list[str]]:
    def walk(command: object, path: list[str]) -> Iterator[list[str]]:
        yield path
        for name, sub in (getattr(command, "commands", None) or {}).items():
            yield from walk(sub, [*path, name])

    yield from walk(get_command(app), [])


def _apps() -> list[tuple[str, typer.Typer]]:
    from koppel.agent.cli import app as agent
    from koppel.server.adapters.cli.admin.app import app as admin

    return [("koppel", agent), ("koppel-admin", admin)]


def test_flags_are_shown_without_a_value_in_every_help() -> None:
    runner = CliRunner()
    scanned = 0
    for name, app in _apps():
        for path in _commands(app):
            shown = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "120"})
            assert shown.exit_code == 0, (name, path, shown.output)
            scanned += 1
            for line in shown.output.splitlines():
                # "--json <bool>" reads as if it took a value; no flag does.
                assert not re.search(r"--(json|help)\s+<", line), (name, path, line)
                assert "<bool>" not in line and "BOOLEAN" not in line, (name, path, line)
    assert scanned > 60  # every command of both programs


def test_the_installed_programs_show_json_as_a_flag(workstation: Ws, server: Server) -> None:
    ws = workstation("laptop")
    for shown in (ws.ok("envs", "--help").stdout, server.ok("env", "list", "--help").stdout):
        # The option's row (the help's example may use --json too).
        (line,) = [line for line in shown.splitlines() if line.lstrip("│ ").startswith("--json")]
        assert re.search(r"--json\s+Print machine-readable JSON", line), line
