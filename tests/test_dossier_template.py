"""A new client environment can receive documents: the firm's dossier template
(destinations and item types) is copied into new clients by `koppel-admin setup client`
and into existing ones by `koppel-admin template apply`; `check` lists an environment
without destinations or item types with the command that fixes it; and an employee whose
`koppel submit` meets such an environment is told that its administrator must add them.
Real server, real `koppel-admin`, real `koppel` on a workstation."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness import Result, Server, Workstation, make_server
from uploads_helpers import auth, tokens_of

Ws = Callable[..., Workstation]
PASSWORD = "correct-horse-1"
# Exit codes, spelled out: the tests pin the contract.
ADMIN_INCOMPLETE, ADMIN_NOT_FOUND, ADMIN_REFUSED, USAGE = 3, 4, 5, 2
AGENT_REFUSED = 7

FIRM_DESTINATIONS = "code,name,kind\nORG,Dekker & Co,organisation\nD0001,Hotel De Kroon,debtor\n"


@pytest.fixture
def practice(tmp_path: Path) -> Iterator[Server]:
    """A fresh server (not the demo) on its own port: firm F50001 with anna, set up;
    no clients yet, no template."""
    server = make_server(tmp_path).start()
    try:
        server.admin("accounts", "create", "anna", "--name", "Anna", "--password-stdin",
                     stdin=PASSWORD + "\n")  # fmt: skip
        server.ok("env", "create", "F50001", "--name", "Dekker & Co", "--kind", "firm")
        server.ok("users", "add", "F50001", "anna")
        server.ok("setup", "firm", "F50001")
        yield server
    finally:
        server.stop()


def _csv(server: Server, name: str, text: str) -> str:
    path = server.data_dir.parent / name
    path.write_text(text)
    return str(path)


def _new_client(server: Server, code: str, name: str = "Bakkerij Jansen") -> Result:
    server.ok("env", "create", code, "--name", name, "--kind", "client", "--firm", "F50001")
    return server.ok("setup", "client", code, "--firm", "F50001", "--user", "anna", "--json")


def _step(server: Server, code: str, key: str = "dossier") -> dict[str, Any]:
    data = server.admin("check", code, "--json").json()
    (env,) = data["environments"]
    (step,) = [s for s in env["steps"] if s["key"] == key]
    return step


def _audit(server: Server, action: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = server.ok(
        "audit", "--action", action, "--limit", "1000", "--json"
    ).json()["entries"]
    return entries


def _submit(ws: Workstation, tmp_path: Path, env: str, *extra: str) -> Result:
    source = tmp_path / "invoice-2026-001.pdf"
    source.write_bytes(b"%PDF-1.4 an invoice\n")
    return ws.koppel(
        "submit", str(source), "--to", "D0001", "--type", "Invoice", "--env", env, *extra
    )


def test_a_new_client_gets_the_firm_template_and_receives_documents(
    practice: Server, workstation: Ws, tmp_path: Path
) -> None:
    server = practice
    # The firm's own dossier, taken as the template for its clients.
    server.ok("destinations", "import", "F50001", _csv(server, "f.csv", FIRM_DESTINATIONS))
    server.ok("groups", "create", "F50001", "Payroll")
    server.ok("item-types", "create", "F50001", "Invoice")
    server.ok("item-types", "create", "F50001", "Correspondence", "--editable")
    server.ok("item-types", "create", "F50001", "Payslip", "--confidential", "--group", "Payroll")
    copied = server.ok("template", "copy-from", "F50001", "F50001", "--json").json()
    assert copied["changed"] is True
    shown = server.ok("template", "show", "F50001", "--json").json()
    assert shown["firm"] == "F50001"
    assert [d["code"] for d in shown["destinations"]] == ["D0001", "ORG"]
    assert {t["name"]: t["groups"] for t in shown["item_types"]} == {
        "Correspondence": [],
        "Invoice": [],
        "Payslip": ["Payroll"],
    }
    assert "Payslip" in server.ok("template", "show", "F50001").stdout

    setup = _new_client(server, "C50001").json()
    messages = " | ".join(o["message"] for o in setup["outcomes"] if o["changed"])
    assert "template of F50001" in messages and "C50001" in messages
    destinations = server.ok("destinations", "list", "C50001", "--json").json()["destinations"]
    # The organisation itself takes the client's own name; the rest is copied as it is.
    assert {(d["code"], d["name"], d["kind"]) for d in destinations} == {
        ("ORG", "Bakkerij Jansen", "organisation"),
        ("D0001", "Hotel De Kroon", "debtor"),
    }
    types = server.ok("item-types", "list", "C50001", "--json").json()["item_types"]
    assert {(t["name"], t["editable"], t["confidential"], tuple(t["groups"])) for t in types} == {
        ("Correspondence", True, False, ()),
        ("Invoice", False, False, ()),
        ("Payslip", False, True, ("Payroll",)),
    }
    # The group a confidential type needs is made in the client, with nobody in it yet.
    groups = server.ok("groups", "list", "C50001", "--json").json()
    assert "Payroll" in str(groups)
    assert server.admin("check", "C50001").returncode == 0
    assert _step(server, "C50001")["done"] is True

    (entry,) = _audit(server, "template.apply")
    assert entry["environment"] == "C50001" and entry["detail"]["firm"] == "F50001"
    assert entry["actor"] == "cli:test-admin"
    assert _audit(server, "template.copy_from")[0]["environment"] == "F50001"

    # The first thing the employee does works.
    ws = workstation("laptop")
    settings = ws.save_settings(server, "C50001", "anna", password=PASSWORD)
    ws.ok("link", str(settings))
    sent = _submit(ws, tmp_path, "C50001", "--json")
    assert sent.returncode == 0, sent.output
    assert sent.json()["state"] == "sent"

    # Setting the client up again copies nothing twice.
    again = server.ok("setup", "client", "C50001", "--firm", "F50001", "--user", "anna", "--json")
    assert again.json()["changed"] is False
    assert len(server.ok("destinations", "list", "C50001", "--json").json()["destinations"]) == 2
    assert len(_audit(server, "template.apply")) == 1


def test_an_empty_client_is_listed_by_check_and_the_agent_names_the_administrator(
    practice: Server, workstation: Ws, tmp_path: Path
) -> None:
    server = practice
    setup = _new_client(server, "C50002").json()
    # Not silent: setup says the client cannot receive documents yet, and what to do.
    said = " ".join(o["message"] for o in setup["outcomes"])
    assert "C50002" in said and "template copy-from F50001" in said

    check = server.admin("check", "C50002")
    assert check.returncode == ADMIN_INCOMPLETE, check.output
    step = _step(server, "C50002")
    assert step["done"] is False
    assert "no destinations" in step["detail"] and "no item types" in step["detail"]
    assert step["fix"].startswith("koppel-admin ")
    assert f"✗ {step['title']}" in check.stdout and f"fix: {step['fix']}" in check.stdout
    assert "C50002" in step["fix"]
    # The firm itself has no catalog either: check says so there too.
    assert _step(server, "F50001")["done"] is False

    ws = workstation("laptop")
    settings = ws.save_settings(server, "C50002", "anna", password=PASSWORD)
    ws.ok("link", str(settings))
    refused = _submit(ws, tmp_path, "C50002")
    assert refused.returncode == AGENT_REFUSED, refused.output
    assert "administrator of C50002" in refused.stderr
    assert "destinations" in refused.stderr and "item types" in refused.stderr
    assert "koppel-admin check C50002" in refused.stderr
    assert "choose one of" not in refused.stderr
    as_json = _submit(ws, tmp_path, "C50002", "--json")
    assert as_json.returncode == AGENT_REFUSED
    error = as_json.json()["error"]
    assert error["code"] == "no_destinations" and "administrator of C50002" in error["message"]
    assert ws.ok("queue", "--json").json() == []  # refused before anything was queued

    # The server says the same to any client of its API (here: straight to POST items).
    token = tokens_of(ws)["C50002"]
    answer = httpx.post(
        f"{server.url}/api/v1/environments/C50002/items",
        headers=auth(token),
        json={
            "submission_id": "0123456789abcdef0123456789abcdef",
            "subject": "x",
            "type": "Invoice",
            "destination": "D0001",
            "uploads": ["u1"],
        },
    )
    assert answer.status_code == 409, answer.text
    body = answer.json()
    assert body["code"] == "no_destinations" and body["environment"] == "C50002"
    assert "administrator of C50002" in body["message"]

    # The administrator gives the firm a template and runs the fix check printed.
    server.ok("template", "add-destination", "F50001", "D0001", "Hotel De Kroon", "--kind",
              "debtor")  # fmt: skip
    server.ok("template", "add-item-type", "F50001", "Invoice")
    step = _step(server, "C50002")
    assert step["fix"] == "koppel-admin template apply F50001 --client C50002"
    words = shlex.split(step["fix"])
    server.ok(*words[1:])
    assert _step(server, "C50002")["done"] is True
    sent = _submit(ws, tmp_path, "C50002", "--json")
    assert sent.returncode == 0, sent.output


def test_no_item_types_the_user_may_use(practice: Server, workstation: Ws, tmp_path: Path) -> None:
    server = practice
    _new_client(server, "C50003")
    server.ok("destinations", "import", "C50003", _csv(server, "c.csv", FIRM_DESTINATIONS))
    ws = workstation("laptop")
    ws.ok("link", str(ws.save_settings(server, "C50003", "anna", password=PASSWORD)))
    refused = _submit(ws, tmp_path, "C50003", "--json")
    assert refused.returncode == AGENT_REFUSED, refused.output
    error = refused.json()["error"]
    assert error["code"] == "no_item_types"
    assert "administrator of C50003" in error["message"]
    step = _step(server, "C50003")
    assert not step["done"] and "no item types" in step["detail"]
    assert "no destinations" not in step["detail"]


def test_apply_never_overwrites_or_duplicates(practice: Server, tmp_path: Path) -> None:
    server = practice
    for code in ("C50011", "C50012", "C50013"):
        _new_client(server, code, f"Client {code}")
    # C50012 has its own destinations (one with a code the template has too).
    own = "code,name,kind\nD0001,Its own debtor,debtor\nP0009,Piet,person\n"
    server.ok("destinations", "import", "C50012", _csv(server, "own.csv", own))
    # C50013 has everything of its own.
    server.ok("destinations", "import", "C50013", _csv(server, "own3.csv", own))
    server.ok("item-types", "create", "C50013", "Letters")

    server.ok("template", "add-destination", "F50001", "ORG", "Whoever", "--kind", "organisation")
    server.ok("template", "add-destination", "F50001", "D0001", "Hotel De Kroon", "--kind",
              "debtor")  # fmt: skip
    server.ok("template", "add-item-type", "F50001", "Invoice")
    changes_before = len(server.ok("audit", "--limit", "100000", "--json").json()["entries"])

    applied = server.ok("template", "apply", "F50001", "--all-clients", "--json").json()
    by_env: dict[str, list[dict[str, Any]]] = {}
    for outcome in applied["outcomes"]:
        by_env.setdefault(outcome["environment"], []).append(outcome)
    assert sorted(by_env) == ["C50011", "C50012", "C50013"]
    assert any(o["changed"] for o in by_env["C50011"])
    assert not any(o["changed"] for o in by_env["C50013"])

    def destinations(code: str) -> dict[str, str]:
        found = server.ok("destinations", "list", code, "--json").json()["destinations"]
        return {d["code"]: d["name"] for d in found}

    def types(code: str) -> list[str]:
        found = server.ok("item-types", "list", code, "--json").json()["item_types"]
        return sorted(t["name"] for t in found)

    assert destinations("C50011") == {"ORG": "Client C50011", "D0001": "Hotel De Kroon"}
    assert types("C50011") == ["Invoice"]
    # Its own destinations are kept as they are; only the missing item types came.
    assert destinations("C50012") == {"D0001": "Its own debtor", "P0009": "Piet"}
    assert types("C50012") == ["Invoice"]
    assert destinations("C50013") == {"D0001": "Its own debtor", "P0009": "Piet"}
    assert types("C50013") == ["Letters"]
    applies = _audit(server, "template.apply")
    assert sorted(e["environment"] for e in applies) == ["C50011", "C50012"]
    assert len(server.ok("audit", "--limit", "100000", "--json").json()["entries"]) == (
        changes_before + 2
    )

    # Again: nothing changes, nothing is audited.
    again = server.ok("template", "apply", "F50001", "--all-clients", "--json").json()
    assert again["changed"] is False
    assert len(_audit(server, "template.apply")) == 2

    # --add-missing adds what a client lacks by code or name, and changes nothing it has.
    more = server.ok(
        "template", "apply", "F50001", "--client", "C50013", "--add-missing", "--json"
    ).json()
    assert more["changed"] is True
    assert destinations("C50013") == {"D0001": "Its own debtor", "P0009": "Piet",
                                      "ORG": "Client C50013"}  # fmt: skip
    assert types("C50013") == ["Invoice", "Letters"]
    text = server.ok("template", "apply", "F50001", "--client", "C50013", "--add-missing")
    assert "C50013" in text.stdout


def test_template_changes_are_audited_and_refusals_change_nothing(
    practice: Server, tmp_path: Path
) -> None:
    server = practice
    server.ok("env", "create", "F60001", "--name", "Other firm", "--kind", "firm")
    server.ok("env", "create", "C60001", "--name", "Not ours", "--kind", "client", "--firm",
              "F60001")  # fmt: skip
    _new_client(server, "C50021")

    empty = server.admin("template", "apply", "F50001", "--client", "C50021", "--json")
    assert empty.returncode == ADMIN_REFUSED, empty.output
    assert "template copy-from F50001" in empty.json()["error"]["message"]

    server.ok("template", "add-item-type", "F50001", "Invoice", "--json")
    repeat = server.ok("template", "add-item-type", "F50001", "invoice", "--json").json()
    assert repeat["changed"] is False
    server.ok("template", "add-destination", "F50001", "D0001", "Hotel", "--kind", "debtor")
    renamed = server.ok(
        "template", "add-destination", "F50001", "D0001", "Hotel De Kroon", "--kind", "debtor",
        "--json",
    ).json()  # fmt: skip
    assert renamed["changed"] is True
    removed = server.ok("template", "remove", "F50001", "--item-type", "INVOICE", "--json")
    assert removed.json()["changed"] is True
    actions = [e["action"] for e in reversed(_audit(server, "template."))]
    assert actions == [
        "template.item_type.add",
        "template.destination.add",
        "template.destination.update",
        "template.remove",
    ]
    assert {e["environment"] for e in _audit(server, "template.")} == {"F50001"}
    server.ok("template", "add-item-type", "F50001", "Invoice")

    audit_before = len(server.ok("audit", "--limit", "100000", "--json").json()["entries"])
    shown_before = server.ok("template", "show", "F50001", "--json").stdout

    def refused(*args: str, exit_code: int = ADMIN_REFUSED, code: str | None = None) -> str:
        result = server.admin(*args, "--json")
        assert result.returncode == exit_code, result.output
        if exit_code != USAGE:
            assert result.stderr.startswith("error: "), result.output
        if code:
            assert result.json()["error"]["code"] == code, result.output
        return result.stderr

    assert "F60001" in refused("template", "apply", "F50001", "--client", "C60001",
                               code="validation_error")  # fmt: skip
    refused("template", "show", "C50021", code="not_a_firm")
    refused("template", "apply", "C50021", "--all-clients", code="not_a_firm")
    refused("template", "apply", "F50001", "--client", "F50001", code="validation_error")
    refused("template", "copy-from", "F50001", "X99999", exit_code=ADMIN_NOT_FOUND,
            code="unknown_environment")  # fmt: skip
    refused("template", "copy-from", "F50001", "C50021", code="validation_error")  # empty
    refused("template", "add-item-type", "F50001", "Payslip", "--confidential",
            code="validation_error")  # fmt: skip
    refused("template", "add-destination", "F50001", "X1", "Somebody", "--kind", "martian",
            code="validation_error")  # fmt: skip
    refused("template", "remove", "F50001", "--destination", "NOPE", exit_code=ADMIN_NOT_FOUND,
            code="not_found")  # fmt: skip
    refused("template", "remove", "F50001", exit_code=USAGE)
    refused("template", "apply", "F50001", exit_code=USAGE)
    refused("template", "apply", "F50001", "--all-clients", "--client", "C50021",
            exit_code=USAGE)  # fmt: skip
    assert server.ok("template", "show", "F50001", "--json").stdout == shown_before
    after = len(server.ok("audit", "--limit", "100000", "--json").json()["entries"])
    assert after == audit_before
    assert server.ok("destinations", "list", "C50021", "--json").json()["destinations"] == []
