"""``koppel-admin`` against a temporary data folder: the firm + clients procedure step by
step (running the fix commands ``check`` prints), the composite set-up commands,
idempotency, refusals, audit, conversion and tokens. The commands run in this process
(``admin_in_process``: same arguments, output and exit codes); the executable itself is
run by the set-up tests (test_setup_walkthrough.py, test_setup_address.py)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from admin_in_process import run_admin
from koppel.protocol.updates import AGENT_UPDATE

CURRENT = str(AGENT_UPDATE)
PREVIOUS = str(AGENT_UPDATE.previous())
PUBLIC_URL = "http://koppel.test:8080"
PASSWORD = "correct-horse-1"


def _executable() -> str:
    beside = Path(sys.executable).parent / "koppel-admin"
    if beside.exists():
        return str(beside)
    found = shutil.which("koppel-admin", path=str(Path(sys.prefix) / "bin"))
    assert found, "koppel-admin is not installed in this environment"
    return found


ADMIN = _executable()


@dataclass
class Run:
    args: list[str]
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def __str__(self) -> str:
        return f"$ {shlex.join(self.args)}\n[exit {self.code}]\n{self.stdout}{self.stderr}"


@dataclass
class Admin:
    """``koppel-admin`` with its own data folder."""

    env: dict[str, str]
    cwd: Path

    def __call__(self, *args: str, stdin: str | None = None) -> Run:
        if args[:1] == ("check",) and "--no-probe" not in args:
            # No server runs at PUBLIC_URL in these tests: what they check is the
            # procedure's steps. Probing is tested with real servers in test_setup_walk.py.
            args = (*args, "--no-probe")
        done = run_admin(self.env, self.cwd, *args, stdin=stdin if stdin is not None else "")
        result = Run([ADMIN, *args], done.returncode, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr, str(result)
        return result

    def ok(self, *args: str, stdin: str | None = None) -> Run:
        result = self(*args, stdin=stdin)
        assert result.code == 0, str(result)
        return result

    def fix(self, command: str) -> Run:
        """Run a fix command exactly as ``check`` printed it."""
        words = shlex.split(command)
        assert words[0] == "koppel-admin", command
        return self.ok(*words[1:])

    def audit_count(self) -> int:
        return len(self.ok("audit", "--limit", "100000", "--json").json()["entries"])


def _make_admin(base: Path, init: bool = True) -> Admin:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOPPEL_")}
    env.update(
        KOPPEL_DATA_DIR=str(base / "data"),
        KOPPEL_PUBLIC_URL=PUBLIC_URL,
        KOPPEL_ACTOR="tester",
    )
    admin = Admin(env, base)
    if init:
        admin.ok("db", "init")
    return admin


@pytest.fixture
def admin(tmp_path: Path) -> Admin:
    """``koppel-admin`` on a new, empty database."""
    return _make_admin(tmp_path)


PRACTICE_CSV = (
    "code,name,kind,firm\n"
    "C20001,Bakkerij Jansen,client,F10001\n"
    "C20002,Garage Visser,client,F10001\n"
    "F10001,Dekker & Co,firm,\n"
)


@pytest.fixture(scope="module")
def practice_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Accounts anna and bram (firm users), zoe (no firm user), firm F10001 and clients
    C20001 and C20002 managed by it (imported firm last: the import orders firms first);
    nothing of the procedure applied yet. Built once, copied by each test."""
    base = tmp_path_factory.mktemp("practice")
    admin = _make_admin(base)
    for login in ("anna", "bram", "zoe"):
        admin.ok("accounts", "create", login, "--password-stdin", stdin=PASSWORD + "\n")
    (base / "envs.csv").write_text(PRACTICE_CSV)
    admin.ok("env", "import", str(base / "envs.csv"))
    admin.ok("users", "add", "F10001", "anna", "bram")
    return base / "data"


@pytest.fixture
def practice(admin: Admin, practice_template: Path) -> Admin:
    """``koppel-admin`` on a copy of the practice."""
    shutil.rmtree(admin.env["KOPPEL_DATA_DIR"])
    shutil.copytree(practice_template, admin.env["KOPPEL_DATA_DIR"])
    return admin


DESTINATIONS_CSV = "code,name,kind\nORG,Dekker & Co,organisation\nD0001,Hotel De Kroon,debtor\n"


def _give_dossier(admin: Admin, code: str) -> None:
    """Destinations and an item type, so that ``code`` can receive documents."""
    csv_file = admin.cwd / "destinations.csv"
    csv_file.write_text(DESTINATIONS_CSV)
    admin.ok("destinations", "import", code, str(csv_file))
    admin.ok("item-types", "create", code, "Invoice")


def _steps(check_json: dict[str, Any], code: str) -> dict[str, dict[str, Any]]:
    (env,) = [e for e in check_json["environments"] if e["code"] == code]
    return {s["key"]: s for s in env["steps"]}


def _walk(admin: Admin, code: str, placeholders: dict[str, str]) -> list[str]:
    """Fix one missing step at a time with the command ``check`` prints for it (filling in
    placeholders such as LOGIN), checking before and after each fix; returns the keys of
    the steps fixed, in order."""
    fixed: list[str] = []
    previous: dict[str, Any] | None = None
    for turn in range(12):
        result = admin("check", code, "--json")
        data = result.json()
        steps = _steps(data, code)
        if previous is not None:
            # The printed fix made progress: the step is done, or moved on to its next fix.
            after = steps[previous["key"]]
            assert after["done"] or (after["detail"], after["fix"]) != (
                previous["detail"],
                previous["fix"],
            ), (previous, after)
        if result.code == 0:
            assert data["complete"] is True
            return fixed
        assert result.code == 3, str(result)
        step = next(s for s in steps.values() if not s["done"])
        assert step["fix"], step
        if turn == 0:
            human = admin("check", code)
            assert human.code == 3
            assert f"✗ {step['title']}" in human.stdout
            assert f"fix: {step['fix']}" in human.stdout
        words = [placeholders.get(word, word) for word in shlex.split(step["fix"])]
        assert words[0] == "koppel-admin", step["fix"]
        admin.ok(*words[1:])
        fixed.append(step["key"])
        previous = step
    raise AssertionError(f"{code} still incomplete after 12 fixes")


def test_procedure_step_by_step_with_the_printed_fixes(admin: Admin, tmp_path: Path) -> None:
    for login in ("anna", "bram"):
        admin.ok(
            "accounts",
            "create",
            login,
            "--name",
            login.title(),
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )
    admin.ok("env", "create", "F10001", "--name", "Dekker & Co", "--kind", "firm")
    admin.ok("env", "create", "C20001", "--name", "Bakkerij Jansen", "--kind", "client")
    admin.ok("users", "add", "F10001", "anna", "bram")

    before = admin("check", "--all", "--json")
    assert before.code == 3
    assert before.json()["summary"] == {
        "environments": 2,
        "complete": 0,
        "incomplete": 2,
        "missing_steps": 13,  # every step of both
    }

    csv_file = tmp_path / "destinations.csv"
    csv_file.write_text(DESTINATIONS_CSV)
    firm_fixed = _walk(admin, "F10001", {"FILE.csv": str(csv_file), "NAME": "Invoice"})
    assert firm_fixed[0] == "api-url"
    assert {"api-url", "portal-access", "authorizations", "connector", "main-site"} <= set(
        firm_fixed
    )
    assert firm_fixed[-2:] == ["dossier", "dossier"]  # destinations, then an item type
    done = admin("check", "F10001")
    assert done.code == 0
    assert "✗" not in done.stdout and "1 of 1 environment complete" in done.stdout
    # The firm's dossier becomes the template its new clients start with.
    admin.ok("template", "copy-from", "F10001", "F10001")

    client_fixed = _walk(admin, "C20001", {"FIRM": "F10001"})
    assert client_fixed[:2] == ["api-url", "firm"]
    assert "authorizations" in client_fixed  # via the printed `setup client ...` fix
    assert "dossier" not in client_fixed  # `setup client` copied the template

    final = admin("check", "--all")
    assert final.code == 0, str(final)
    assert final.stdout.strip().endswith("2 of 2 environments complete")
    users = admin.ok("users", "list", "C20001", "--json").json()["users"]
    assert [u["login"] for u in users] == ["anna", "bram"]
    assert all("General/User/Communication Center/Save settings" in u["functions"] for u in users)


def test_setup_is_idempotent_and_audited(practice: Admin, tmp_path: Path) -> None:
    admin = practice
    _give_dossier(admin, "F10001")
    admin.ok("template", "copy-from", "F10001", "F10001")
    audit_before = admin.audit_count()

    setup_clients = "setup client C20001 C20002 --firm F10001 --user anna --user bram --json"
    first = admin.ok("setup", "firm", "F10001", "--json").json()
    clients = admin.ok(*setup_clients.split()).json()
    assert first["changed"] is True and clients["changed"] is True
    assert {o["environment"] for o in clients["outcomes"]} == {"C20001", "C20002"}
    changes = sum(o["changed"] for o in first["outcomes"] + clients["outcomes"])
    count = admin.audit_count()
    assert count == audit_before + changes  # one entry per change

    again = admin.ok("setup", "firm", "F10001")
    assert "✓" not in again.stdout and "Nothing to change" in again.stdout
    assert "koppel-admin check F10001" in again.stdout
    repeat = admin.ok(*setup_clients.replace("anna --user bram", "anna,bram").split()).json()
    assert repeat["changed"] is False
    assert not any(o["changed"] for o in repeat["outcomes"])
    assert admin.audit_count() == count  # the second runs wrote nothing

    check = admin("check", "--all", "--json")
    assert check.code == 0
    data = check.json()
    assert data["complete"] is True
    assert data["summary"]["complete"] == data["summary"]["environments"] == 3
    for env in data["environments"]:
        assert set(env) == {"code", "name", "kind", "update", "complete", "steps"}
        for step in env["steps"]:
            assert set(step) == {"key", "title", "done", "detail", "fix"}
            assert step["done"] is True and step["fix"] is None

    entries = admin.ok("audit", "--env", "C20001", "--action", "user", "--json").json()["entries"]
    assert {e["action"] for e in entries} == {"user.add", "user.authorize"}
    assert {e["actor"] for e in entries} == {"cli:tester"}
    assert {e["environment"] for e in entries} == {"C20001"}
    assert {e["detail"]["login"] for e in entries} == {"anna", "bram"}

    # --actor overrides KOPPEL_ACTOR; a second data folder given by --data-dir is separate.
    other = tmp_path / "other"
    admin.ok("--data-dir", str(other), "db", "init")
    admin.ok("--data-dir", str(other), "--actor", "robin", "env", "create", "F1", "--kind", "firm")
    moved = admin.ok("--data-dir", str(other), "audit", "--json").json()["entries"]
    assert [(e["actor"], e["action"]) for e in moved] == [("cli:robin", "environment.create")]
    assert "F1" not in [e["code"] for e in admin.ok("env", "list", "--json").json()["environments"]]


def test_refusals_change_nothing(practice: Admin) -> None:
    admin = practice
    admin.ok("setup", "firm", "F10001")
    _give_dossier(admin, "F10001")
    snapshot = admin("check", "C20001", "C20002", "--json")
    assert snapshot.code == 3
    audit_before = admin.audit_count()

    unknown = admin("check", "X99999")
    assert unknown.code == 4
    assert unknown.stderr.startswith("error: ") and len(unknown.stderr.strip().splitlines()) == 1
    as_json = admin("env", "show", "X99999", "--json")
    assert as_json.code == 4
    assert as_json.json()["error"]["code"] == "unknown_environment"
    assert as_json.json()["error"]["environment"] == "X99999"

    not_firm = admin("setup", "firm", "C20001", "--json")
    assert not_firm.code == 5
    assert not_firm.json()["error"]["code"] == "not_a_firm"

    # zoe has an account but is no user of the firm: nothing of C20001 may be done either.
    stranger = admin(
        "setup",
        "client",
        "C20001",
        "C20002",
        "--firm",
        "F10001",
        "--user",
        "anna",
        "--user",
        "zoe",
    )
    assert stranger.code == 5
    assert "zoe" in stranger.stderr and "F10001" in stranger.stderr
    assert admin("check", "C20001", "C20002", "--json").stdout == snapshot.stdout
    missing_only = admin("check", "--all", "--missing-only")
    assert missing_only.code == 3
    assert "F10001  Dekker" not in missing_only.stdout
    assert "C20002  Garage Visser" in missing_only.stdout
    assert missing_only.stdout.strip().splitlines()[-1].startswith("1 of 3 environments complete")

    assert admin("env", "create", "no good!", "--kind", "firm").code == 5
    assert admin("env", "create", "F20001", "--kind", "firm", "--update", "1999.1").code == 5
    assert admin("env", "create", "C29999", "--kind", "client", "--firm", "C20001").code == 5
    bad_function = admin("users", "authorize", "F10001", "anna", "--function", "Fly")
    assert bad_function.code == 2 and "General/Output/My files" in bad_function.stderr
    assert admin("users", "add", "F10001", "nobody").code == 4
    no_password = admin("accounts", "create", "yara")
    assert no_password.code == 2 and "--password-stdin" in no_password.stderr
    assert admin("check", "C20001", "--all").code == 2
    # A bare `check` is every environment (what the agent tells an employee to ask for).
    assert admin("check", "--json").stdout == admin("check", "--all", "--json").stdout
    # Setting a client up with nobody to authorize is refused, naming the option.
    nobody = admin("setup", "client", "C20002", "--firm", "F10001")
    assert nobody.code == 5 and "--user LOGIN" in nobody.stderr, nobody
    assert admin.audit_count() == audit_before


def test_convert_only_forward_to_supported_updates(admin: Admin) -> None:
    admin.ok("env", "create", "F30001", "--kind", "firm", "--update", PREVIOUS)
    admin.ok(
        "env", "create", "C30001", "--kind", "client", "--update", PREVIOUS, "--firm", "F30001"
    )
    admin.ok(
        "env", "create", "C30002", "--kind", "client", "--update", PREVIOUS, "--firm", "F30001"
    )

    firm_only = admin.ok("env", "convert", "F30001")  # default: the server's current update
    assert f"F30001 converted from update {PREVIOUS} to {CURRENT}" in firm_only.stdout
    assert (
        f"the agents of users must be of update {CURRENT} from now on; their links are kept"
        in firm_only.stdout
    )
    step = _steps(admin("check", "C30001", "--json").json(), "C30001")["update"]
    assert not step["done"] and step["fix"] == f"koppel-admin env convert C30001 --to {CURRENT}"
    admin.fix(step["fix"])
    assert _steps(admin("check", "C30001", "--json").json(), "C30001")["update"]["done"]

    back = admin("env", "convert", "C30002", "F30001", "--to", PREVIOUS, "--json")
    assert back.code == 5 and back.json()["error"]["code"] == "update_unsupported"
    assert admin("env", "convert", "C30002", "--to", "2099.1").code == 5
    assert admin("env", "convert", "C30002", "--to", "soon").code == 5

    rest = admin.ok("env", "convert", "F30001", "--with-clients", "--json").json()
    assert [(o["environment"], o["changed"]) for o in rest["outcomes"]] == [
        ("F30001", False),
        ("C30001", False),
        ("C30002", True),
    ]
    updates = {
        e["code"]: e["update"] for e in admin.ok("env", "list", "--json").json()["environments"]
    }
    assert updates == {"F30001": CURRENT, "C30001": CURRENT, "C30002": CURRENT}
    actions = [
        e["action"]
        for e in admin.ok("audit", "--action", "environment.convert", "--json").json()["entries"]
    ]
    assert actions == ["environment.convert"] * 3


def _link(data_dir: Path, code: str, login: str, workstation: str) -> None:
    """A link made through the domain, as the agent API would (the test needs no server)."""
    from koppel.protocol.api import Workstation
    from koppel.server.adapters.assembly import create_services
    from koppel.server.config import ServerSettings
    from koppel.server.domain.links.enrollment import authenticate, settings_for
    from koppel.server.domain.links.linking import link

    svc = create_services(ServerSettings(data_dir=data_dir, public_url=PUBLIC_URL))
    try:
        with svc.transaction() as uow:
            account = authenticate(uow.core, login, PASSWORD)
            document = settings_for(uow.core, svc.policy, account, code)
        with svc.transaction() as uow:
            link(
                uow.core,
                svc.policy,
                CURRENT,
                Workstation(id=f"{workstation}-0001", name=workstation),
                [document],
            )
    finally:
        svc.database.dispose()


def test_tokens_list_and_revoke(practice: Admin) -> None:
    admin = practice
    admin.ok("setup", "firm", "F10001")
    admin.ok("setup", "client", "C20001", "--firm", "F10001", "--user", "anna", "--user", "bram")
    data_dir = Path(admin.env["KOPPEL_DATA_DIR"])
    _link(data_dir, "C20001", "anna", "laptop")
    _link(data_dir, "C20001", "anna", "desk")
    _link(data_dir, "C20001", "bram", "laptop")
    _link(data_dir, "F10001", "anna", "laptop")

    tokens = admin.ok("tokens", "list", "C20001", "--json").json()["tokens"]
    assert sorted((t["login"], t["workstation_name"]) for t in tokens) == [
        ("anna", "desk"),
        ("anna", "laptop"),
        ("bram", "laptop"),
    ]
    assert len(admin.ok("tokens", "list", "--user", "anna", "--json").json()["tokens"]) == 3
    table = admin.ok("tokens", "list", "C20001").stdout
    assert "laptop (laptop-0001)" in table and tokens[0]["id"] in table

    refused = admin("tokens", "revoke", "C20001")
    assert refused.code == 2 and "--all-tokens" in refused.stderr
    assert admin.ok(
        "tokens", "revoke", "C20001", "--workstation", "laptop", "--user", "anna"
    ).stdout.startswith("✓ 1 token revoked")
    bram = next(t["id"] for t in tokens if t["login"] == "bram")
    admin.ok("tokens", "revoke", "C20001", bram)
    again = admin("tokens", "revoke", "C20001", bram)
    assert again.code == 4

    active = admin.ok("tokens", "list", "C20001", "--json").json()["tokens"]
    assert [(t["login"], t["workstation_name"]) for t in active] == [("anna", "desk")]
    every = admin.ok("tokens", "list", "C20001", "--all", "--json").json()["tokens"]
    assert sorted(t["revoked_reason"] or "-" for t in every) == [
        "-",
        "administrator",
        "administrator",
    ]
    assert len(admin.ok("tokens", "list", "F10001", "--json").json()["tokens"]) == 1  # untouched

    everything = admin.ok("tokens", "revoke", "C20001", "--all-tokens").stdout
    assert everything.startswith("✓ 1 token revoked")
    assert admin.ok("tokens", "list", "C20001", "--json").json()["tokens"] == []
    revocations = admin.ok("audit", "--action", "token", "--json").json()["entries"]
    assert len(revocations) == 3 and all(e["environment"] == "C20001" for e in revocations)


def test_import_show_and_the_other_steps(practice: Admin, tmp_path: Path) -> None:
    admin = practice
    (tmp_path / "more.csv").write_text(PRACTICE_CSV + "C20003,Bloemenhuis,client,F10001\n")
    again = admin.ok("env", "import", str(tmp_path / "more.csv"))
    assert "4 rows: 1 environment created, 3 already present" in again.stdout

    admin.ok("groups", "create", "F10001", "Staff")
    admin.ok("groups", "authorize", "F10001", "Staff", "--function", "app connector")
    admin.ok("groups", "add-member", "F10001", "Staff", "anna")
    admin.ok("portal", "grant", "F10001", "--all")
    admin.ok("connector", "unblock", "F10001", "temporary-office-access")
    admin.ok("env", "set", "C20003", "--name", "Bloemenhuis De Vries", "--portal")
    show = admin.ok("env", "show", "F10001", "--json").json()["environment"]
    assert show["clients"] == ["C20001", "C20002", "C20003"]
    anna = next(u for u in show["users"] if u["login"] == "anna")
    assert anna["portal"] is True and anna["groups"] == ["Staff"]
    assert anna["functions"] == ["General/Management/App connector"]
    assert {c["name"]: c["blocked"] for c in show["connectors"]} == {
        "communication-center": True,
        "temporary-office-access": False,
    }
    assert "Staff" in admin.ok("env", "show", "F10001").stdout

    listed = admin.ok("env", "list", "--kind", "client").stdout.splitlines()
    assert listed[0].split()[:4] == ["CODE", "NAME", "KIND", "UPDATE"]
    assert len(listed) == 4
    assert "Bloemenhuis De Vries" in listed[3] and "yes" in listed[3]

    accounts = admin.ok("accounts", "list", "--json").json()["accounts"]
    assert [(a["login"], a["environments"]) for a in accounts] == [
        ("anna", ["F10001"]),
        ("bram", ["F10001"]),
        ("zoe", []),
    ]
    admin.ok("accounts", "disable", "zoe")
    assert "already disabled" in admin.ok("accounts", "disable", "zoe").stdout
    admin.ok("portal", "revoke", "F10001", "bram")
    admin.ok("connector", "block", "F10001", "temporary-office-access")
    connectors = admin.ok("connector", "list", "F10001", "--json").json()["connectors"]
    assert all(c["blocked"] for c in connectors)
    assert "already at the newest revision" in admin.ok("db", "upgrade").stdout
    wheel = Path(admin.ok("installation", "build", "--update", PREVIOUS).stdout.strip())
    assert wheel.name == f"koppel-{PREVIOUS}.0-py3-none-any.whl" and wheel.is_file()
    status = admin.ok("db", "status", "--json").json()
    assert status["pending"] is False and status["revision"] == status["head"]
