"""Moving one environment: ``koppel-admin env export`` on one host, ``env restore`` on
another (SQLite to SQLite, and SQLite to PostgreSQL 15 on the suite's throwaway
cluster); the restored environment exports to the same rows and the same bytes, its
users link again and open the same documents."""

from __future__ import annotations

import json
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import postgres
from dossier_support import Api, link
from harness import Server, Workstation, make_server

Ws = Callable[..., Workstation]


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _filled(srv: Server, ws: Workstation) -> tuple[Api, dict[str, Any], bytes]:
    anna = Api(srv, "F10001", link(ws, srv, "F10001", "anna"))
    letter = b"Dear sir,\n" * 3000
    item = anna.item("Letter to the bank", "Correspondence", {"letter.txt": letter})
    anna.item("Two files", "Invoice", {"a.pdf": b"%PDF a", "b.pdf": b"%PDF b" * 1000})
    srv.ok("connector", "unblock", "F10001", "temporary-office-access")
    att = item["attachments"][0]
    saved = anna.save_version(item["id"], att["id"], letter + b"PS\n", att["current"]["etag"])
    assert saved.status_code in (200, 201), saved.text
    srv.ok("groups", "create", "F10001", "Payroll")
    return anna, item, letter + b"PS\n"


def _round_trip(tmp_path: Path, workstation: Ws, target: Server) -> None:
    source = make_server(tmp_path).start("--demo")
    try:
        ws = workstation("old")
        _, item, newest = _filled(source, ws)
        exported = tmp_path / "F10001.zip"
        done = source.ok("env", "export", "F10001", str(exported), "--json").json()
        assert done["counts"]["attachment_versions"] == 4 and done["blobs"] == 4
        assert exported.stat().st_mode & 0o077 == 0
        again = source.admin("env", "export", "F10001", str(exported))
        assert again.returncode == 5 and "exists" in again.stderr
    finally:
        source.stop()

    target.start()
    try:
        target.ok("accounts", "create", "anna", "--name", "Anna here", "--password", "x" * 12)
        restored = target.ok("env", "restore", str(exported))
        assert "the account anna exists on this host" in restored.stdout
        assert "link their workstations again" in restored.stdout
        twice = target.admin("env", "restore", str(exported), "--json")
        assert twice.returncode == 5 and twice.json()["error"]["code"] == "environment_exists"

        # The restored environment exports to the same rows and the same contents.
        back = tmp_path / "back.zip"
        target.ok("env", "export", "F10001", str(back))
        first, second = _members(exported), _members(back)
        assert sorted(first) == sorted(second)
        one, two = (json.loads(m["environment.json"]) for m in (first, second))
        assert two["audit_entries"][-1]["action"] == "environment.restore"
        two["audit_entries"].pop()
        # anna was here already and stays as she was; the other accounts came along.
        mine, theirs = (
            {a["login"]: a for a in doc.pop("accounts")} for doc in (one, two)
        )  # fmt: skip
        assert theirs["anna"]["display_name"] == "Anna here"
        assert {k: v for k, v in mine.items() if k != "anna"} == {
            k: v for k, v in theirs.items() if k != "anna"
        }
        assert json.dumps(one, sort_keys=True) == json.dumps(two, sort_keys=True)
        assert {k: v for k, v in first.items() if k.startswith("blobs/")} == {
            k: v for k, v in second.items() if k.startswith("blobs/")
        }
        assert first["manifest.json"] == second["manifest.json"]

        # Users link again and open the same document (anna keeps this host's password).
        target.ok("env", "set-api-url", "F10001", target.url)
        target.ok("accounts", "set-password", "anna", "--password", "koppel-demo")
        ws = workstation("new")
        ws.env["KOPPEL_OPEN_COMMAND"] = "true"
        link(ws, target, "F10001", "anna")
        listed = ws.ok("items", "--env", "F10001", "--json").json()
        found = next(i for i in listed["items"] if i["subject"] == "Letter to the bank")
        opened = ws.ok("open", str(found["id"]), "--env", "F10001", "--json").json()
        assert Path(opened["path"]).read_bytes() == newest and opened["version"] == 2
        assert item["subject"] == found["subject"]
    finally:
        target.stop()


def test_an_environment_moves_between_sqlite_hosts(tmp_path: Path, workstation: Ws) -> None:
    _round_trip(tmp_path, workstation, make_server(tmp_path))


@pytest.mark.postgres
def test_an_environment_moves_from_sqlite_to_postgresql(
    tmp_path: Path, workstation: Ws, postgres_cluster: postgres.Cluster
) -> None:
    url = postgres_cluster.create_database(f"koppel_{uuid.uuid4().hex[:8]}")
    _round_trip(tmp_path, workstation, make_server(tmp_path, database_url=url))


def test_a_damaged_export_changes_nothing(
    demo_server: Server, workstation: Ws, tmp_path: Path
) -> None:
    _filled(demo_server, workstation())
    exported = tmp_path / "F10001.zip"
    demo_server.ok("env", "export", "F10001", str(exported))
    client = tmp_path / "C20001.zip"
    demo_server.ok("env", "export", "C20001", str(client))
    members = _members(exported)
    key = next(k for k in members if k.startswith("blobs/"))
    members[key] = members[key][:-1] + b"!"
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(tampered, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)

    target = make_server(tmp_path).start()
    try:
        refused = target.admin("env", "restore", str(tampered), "--json")
        assert refused.returncode == 5, refused.output
        assert refused.json()["error"]["code"] == "export_damaged"
        assert target.ok("env", "list", "--json").json()["environments"] == []
        blobs = target.data_dir / "blobs"
        assert not [p for p in blobs.rglob("*") if p.is_file()]
        # A client before its firm: restored without one, and told how to join them.
        alone = target.ok("env", "restore", str(client)).stdout
        assert "koppel-admin env set-firm C20001 F10001" in alone
        assert target.ok("env", "restore", str(exported)).returncode == 0
        target.ok("env", "set-firm", "C20001", "F10001")
        shown = target.ok("env", "show", "C20001", "--json").json()["environment"]
        assert shown["firm"] == "F10001"
        missing = target.admin("env", "export", "NOPE", str(tmp_path / "n.zip"))
        assert missing.returncode == 4 and "no environment NOPE" in missing.stderr
    finally:
        target.stop()
