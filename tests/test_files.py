"""My files end to end: publishing (koppel-admin and the integration push), `koppel files`,
`koppel files get` (verified), analyses (the .xlsx dossier overview made by the worker),
and every refusal with its code. Real server, real CLI."""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from backends import both_backends
from dossier_support import Api, link
from harness import DEMO_PASSWORD, Server, Workstation

Ws = Callable[..., Workstation]
UPDATE = {"Koppel-Update": "2026.2"}
REFUSED = 7


def publish(srv: Server, env: str, login: str, path: Path) -> dict[str, Any]:
    found: dict[str, Any] = srv.ok("files", "publish", env, login, str(path), "--json").json()
    return found


def files_of(ws: Workstation, env: str) -> dict[int, dict[str, Any]]:
    return {f["id"]: f for f in ws.ok("files", "--env", env, "--json").json()}


def wait_state(ws: Workstation, env: str, file_id: int, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        file = files_of(ws, env)[file_id]
        if file["state"] != "pending" or time.monotonic() > deadline:
            return file
        time.sleep(0.2)


def rows_of(db: Path, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as connection:
        return list(connection.execute(query))


@both_backends
def test_published_file_is_listed_and_downloaded_verified(
    demo_server: Server, workstation: Ws, tmp_path: Path
) -> None:
    srv = demo_server
    ws = workstation("laptop", KOPPEL_DOWNLOADS_DIR=str(tmp_path / "downloads"))
    link(ws, srv, "F10001", "anna")
    content = b"%PDF-1.7 annual report\n" * 5000
    source = tmp_path / "Jaarrekening 2025.pdf"
    source.write_bytes(content)
    published = publish(srv, "F10001", "anna", source)
    assert published["sha256"] == hashlib.sha256(content).hexdigest()

    listed = files_of(ws, "F10001")
    entry = listed[published["id"]]
    assert entry["name"] == "Jaarrekening 2025.pdf" and entry["state"] == "ready"
    assert entry["size"] == len(content) and entry["source"] == "pushed"
    assert entry["delivered"] is False
    assert "Jaarrekening 2025.pdf" in ws.ok("files", "--env", "F10001").stdout

    target = tmp_path / "out.pdf"
    got = ws.ok("files", "get", str(published["id"]), "--env", "F10001", "-o", str(target))
    assert Path(got.stdout.strip()) == target and target.read_bytes() == content
    # Without -o it goes to the downloads folder, like `koppel watch`, and counts as delivered.
    placed = Path(ws.ok("files", "get", str(published["id"]), "--env", "F10001").stdout.strip())
    assert placed.parent == tmp_path / "downloads" / "Dekker & Co Accountants"
    assert placed.read_bytes() == content
    assert files_of(ws, "F10001")[published["id"]]["delivered"] is True
    assert not list(placed.parent.glob("*.koppel-part"))
    assert srv.ok("files", "list", "F10001", "--user", "anna", "--json").json()["files"]

    missing = ws.koppel("files", "get", "999", "--env", "F10001")
    assert missing.returncode != 0 and "no file 999" in missing.stderr


@both_backends
def test_content_has_sha256_etag_and_ranges(
    demo_server: Server, workstation: Ws, tmp_path: Path
) -> None:
    srv, ws = demo_server, workstation()
    token = link(ws, srv, "F10001", "anna")
    data = bytes(range(256)) * 40
    (tmp_path / "data.zip").write_bytes(data)
    file_id = publish(srv, "F10001", "anna", tmp_path / "data.zip")["id"]
    with httpx.Client(
        base_url=f"{srv.url}/api/v1/environments/F10001",
        headers={**UPDATE, "Authorization": f"Bearer {token}"},
    ) as http:
        whole = http.get(f"files/{file_id}/content")
        digest = hashlib.sha256(data).hexdigest()
        assert whole.content == data and whole.headers["Koppel-Sha256"] == digest
        etag = whole.headers["ETag"]
        part = http.get(f"files/{file_id}/content", headers={"Range": "bytes=10-19"})
        assert part.status_code == 206 and part.content == data[10:20]
        assert part.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
        tail = http.get(f"files/{file_id}/content", headers={"Range": "bytes=-5"})
        assert tail.content == data[-5:]
        outside = http.get(f"files/{file_id}/content", headers={"Range": "bytes=99999-"})
        assert outside.status_code == 416 and outside.json()["code"] == "range_not_satisfiable"
        same = http.get(f"files/{file_id}/content", headers={"If-None-Match": etag})
        assert same.status_code == 304


def test_analysis_is_pending_then_ready_as_a_workbook(
    demo_server: Server, workstation: Ws, tmp_path: Path
) -> None:
    srv, ws = demo_server, workstation()
    api = Api(srv, "F10001", link(ws, srv, "F10001", "anna"))
    # Items through engineer A's dossier API, when this build has it.
    types = api.get("item-types")
    type_name = types.json()[0]["name"] if types.status_code == 200 and types.json() else None
    subjects = []
    if type_name:
        for number in range(2):
            subject = f"Loonaangifte {number}"
            api.item(subject, type_name, {f"aangifte-{number}.txt": b"x" * (100 + number)})
            subjects.append(subject)

    answer = ws.ok("analyses", "request", "--env", "F10001", "--json").json()
    assert answer["state"] in ("pending", "ready")
    file = wait_state(ws, "F10001", answer["file_id"])
    assert file["state"] == "ready", file
    assert file["name"].endswith(".xlsx") and file["source"] == "job"

    target = tmp_path / "overview.xlsx"
    ws.ok("files", "get", str(file["id"]), "--env", "F10001", "-o", str(target))
    sheet = load_workbook(io.BytesIO(target.read_bytes()), read_only=True)["Overview"]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0][:3] == ["Item", "Created (Europe/Amsterdam)", "Subject"]
    assert sorted(r[2] for r in rows[1:]) == sorted(subjects)
    assert subjects or types.status_code == 404  # A's API exists in this build: items listed
    jobs = rows_of(srv.data_dir / "koppel.sqlite3", "select state, attempts from jobs")
    assert jobs == [("done", 1)]

    waited = ws.ok("analyses", "request", "--env", "F10001", "--wait", "--json").json()
    assert waited["state"] == "ready"
    unknown = httpx.post(
        f"{srv.url}/api/v1/environments/F10001/analyses",
        json={"kind": "profit-forecast"},
        headers={**UPDATE, "Authorization": f"Bearer {api.http.headers['Authorization'][7:]}"},
    )
    assert unknown.status_code == 400 and unknown.json()["code"] == "validation_error"


def test_integration_push_with_its_api_key(demo_server: Server, workstation: Ws) -> None:
    srv, ws = demo_server, workstation()
    link(ws, srv, "F10001", "anna")
    url = f"{srv.url}/api/v1/environments/F10001/users/anna/files"
    raw = {"Koppel-Filename": "invoice.pdf", "Content-Type": "application/pdf"}

    def count() -> int:
        return len(files_of(ws, "F10001"))

    # No key, a user's password, another environment's key: one and the same refusal.
    other = srv.ok("integrations", "create", "C20001", "payroll", "--json").json()["key"]
    attempts: list[dict[str, Any]] = [
        {"headers": raw},
        {"headers": raw, "auth": ("anna", DEMO_PASSWORD)},
        {"headers": {**raw, "Authorization": f"Bearer {other}"}},
    ]
    for kwargs in attempts:
        refused = httpx.post(url, content=b"data", **kwargs)
        assert refused.status_code == 401 and refused.json()["code"] == "token_invalid"
    assert count() == 0

    created = srv.ok("integrations", "create", "F10001", "payroll", "--json").json()
    assert created["key"].startswith("kpli_") and created["name"] == "payroll"
    key = {"Authorization": f"Bearer {created['key']}"}
    unsafe = httpx.post(url, content=b"x", headers={**raw, **key, "Koppel-Filename": "../evil"})
    assert unsafe.status_code == 400 and unsafe.json()["code"] == "unsafe_name"
    empty = httpx.post(url, content=b"", headers={**raw, **key})
    assert empty.status_code == 400 and empty.json()["code"] == "empty_file"
    nobody = httpx.post(
        f"{srv.url}/api/v1/environments/F10001/users/nobody/files",
        content=b"x",
        headers={**raw, **key},
    )
    assert nobody.status_code == 404
    assert count() == 0

    pushed = httpx.post(url, content=b"%PDF raw", headers={**raw, **key})
    assert pushed.status_code == 201, pushed.text
    multipart = httpx.post(
        url, files={"file": ("statement.csv", b"a;b\n1;2\n", "text/csv")}, headers=key
    )
    assert multipart.status_code == 201, multipart.text
    listed = {f["name"]: f for f in files_of(ws, "F10001").values()}
    assert set(listed) == {"invoice.pdf", "statement.csv"}
    assert listed["statement.csv"]["sha256"] == hashlib.sha256(b"a;b\n1;2\n").hexdigest()
    assert listed["invoice.pdf"]["media_type"] == "application/pdf"

    # The audit log names the integration and the user it delivered to.
    entries = srv.ok("audit", "--env", "F10001", "--action", "file.push", "--json").json()
    pushes = entries["entries"]
    assert [(e["actor"], e["detail"]["user"]) for e in pushes] == [
        ("integration:payroll", "anna"), ("integration:payroll", "anna")
    ]  # fmt: skip
    keys = srv.ok("integrations", "list", "F10001", "--json").json()["keys"]
    assert [k["name"] for k in keys] == ["payroll"] and keys[0]["last_used"]

    srv.ok("integrations", "revoke", "F10001", "payroll")
    revoked = httpx.post(url, content=b"%PDF raw", headers={**raw, **key})
    assert revoked.status_code == 401 and revoked.json()["code"] == "token_invalid"
    assert count() == 2


def test_refusals_on_every_files_route(
    demo_server: Server, workstation: Ws, tmp_path: Path
) -> None:
    srv, ws = demo_server, workstation()
    f_token = link(ws, srv, "F10001", "anna")
    c_token = link(ws, srv, "C20001", "anna")
    (tmp_path / "a.txt").write_text("for anna")
    mine = publish(srv, "F10001", "anna", tmp_path / "a.txt")["id"]
    theirs = publish(srv, "F10001", "bram", tmp_path / "a.txt")["id"]

    def call(token: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(
            method,
            f"{srv.url}/api/v1/environments/F10001/{path}",
            headers={**UPDATE, "Authorization": f"Bearer {token}"},
            **kwargs,
        )

    routes = [
        ("GET", "files", {}),
        ("GET", f"files/{mine}/content", {}),
        ("POST", f"files/{mine}/delivered", {}),
        ("POST", "analyses", {"json": {"kind": "dossier-overview"}}),
    ]
    for method, path, kwargs in routes:
        wrong = call(c_token, method, path, **kwargs)
        assert wrong.status_code == 403, (path, wrong.text)
        assert wrong.json()["code"] == "token_wrong_environment"
        assert call("kplt_nonsense", method, path, **kwargs).json()["code"] == "token_invalid"
    # Another user's file does not exist for anna.
    for method, path in (("GET", f"files/{theirs}/content"), ("POST", f"files/{theirs}/delivered")):
        assert call(f_token, method, path).json()["code"] == "not_found"

    # Without "My files" nothing works, and nothing changes.
    srv.ok("users", "unauthorize", "F10001", "anna", "--function", "My files")
    for method, path, kwargs in routes:
        refused = call(f_token, method, path, **kwargs)
        assert refused.status_code == 403 and refused.json()["code"] == "not_authorized"
        assert "My files" in refused.json()["message"]
    cli = ws.koppel("files", "--env", "F10001")
    assert cli.returncode == REFUSED and "My files" in cli.stderr
    db = srv.data_dir / "koppel.sqlite3"
    assert rows_of(db, "select count(*) from jobs") == [(0,)]
    assert rows_of(db, "select count(*) from output_deliveries") == [(0,)]
    assert rows_of(db, "select count(*) from output_files") == [(2,)]


def test_admin_publish_refusals_change_nothing(demo_server: Server, tmp_path: Path) -> None:
    srv = demo_server
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "ok.txt").write_text("fine")
    assert srv.admin("files", "publish", "F10001", "anna", str(tmp_path / "empty.txt")).returncode
    assert srv.admin("files", "publish", "F99999", "anna", str(tmp_path / "ok.txt")).returncode == 4
    assert srv.admin("files", "publish", "F10001", "nobody", str(tmp_path / "ok.txt")).returncode
    assert srv.admin("files", "publish", "F10001", "anna", str(tmp_path / "no.txt")).returncode
    assert srv.ok("files", "list", "F10001", "--json").json()["files"] == []
    assert not list((srv.data_dir / "blobs" / "blobs").rglob("*"))


@pytest.mark.parametrize("name", ["report.pdf"])
def test_pending_call_answers_many_environments_at_once(
    demo_server: Server, workstation: Ws, tmp_path: Path, name: str
) -> None:
    srv, ws = demo_server, workstation()
    ws.ok("link", str(ws.save_settings(srv, "F10001", "anna", bundle=True)))
    ws.ok("link", str(ws.save_settings(srv, "F10001", "anna")))
    (tmp_path / name).write_text("x")
    for env in ("C20001", "C20003"):
        publish(srv, env, "anna", tmp_path / name)
    tokens = json.loads((ws.home / ".local/share/koppel/tokens.json").read_text())["tokens"]
    queries = [{"environment": k.split("|")[1], "token": t} for k, t in tokens.items()]
    state = json.loads((ws.home / ".local/share/koppel/state.json").read_text())
    body = {"environments": queries, "workstation_id": state["workstation"]["id"]}
    answer = httpx.post(f"{srv.url}/api/v1/files/pending", json=body, headers=UPDATE).json()
    by_env = {e["environment"]: e for e in answer["environments"]}
    assert {k: len(v["files"]) for k, v in by_env.items()} == {
        "F10001": 0,
        "C20001": 1,
        "C20002": 0,
        "C20003": 1,
    }
    other = httpx.post(
        f"{srv.url}/api/v1/files/pending", json={**body, "workstation_id": "other"}, headers=UPDATE
    ).json()
    assert {e["state"] for e in other["environments"]} == {"token_invalid"}
    assert DEMO_PASSWORD


@pytest.mark.postgres
def test_jobs_and_delivery_on_postgresql(
    postgres_cluster: Any, workstation: Ws, tmp_path: Path
) -> None:
    """Two replicas' worth of workers (3 threads) on PostgreSQL: every job is claimed
    exactly once (FOR UPDATE SKIP LOCKED), and files are delivered as on SQLite."""
    from harness import make_server

    url = postgres_cluster.create_database(f"koppel_{uuid.uuid4().hex[:8]}")
    srv = make_server(tmp_path, database_url=url)
    srv.env["KOPPEL_WORKERS"] = "3"
    srv.start("--demo")
    try:
        ws = workstation()
        link(ws, srv, "F10001", "anna")
        ids = [
            ws.ok("analyses", "request", "--env", "F10001", "--json").json()["file_id"]
            for _ in range(5)
        ]
        states = {i: wait_state(ws, "F10001", i)["state"] for i in ids}
        assert set(states.values()) == {"ready"}
        (tmp_path / "p.txt").write_text("pg")
        pushed = publish(srv, "F10001", "anna", tmp_path / "p.txt")["id"]
        got = ws.ok("files", "get", str(pushed), "--env", "F10001", "-o", str(tmp_path / "o.txt"))
        assert Path(got.stdout.strip()).read_text() == "pg"
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as connection:
            attempts = connection.execute("select state, attempts from jobs").fetchall()
        assert attempts == [("done", 1)] * 5
    finally:
        srv.stop()
