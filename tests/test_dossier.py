"""The dossier: destinations and item types through koppel-admin, items made of real tus
uploads, who may see what, downloads, versions (the app in process), and the agent's
``koppel items`` / ``koppel open`` (the real agent, the app served on a port). The
default program that opens files cannot run here: ``KOPPEL_OPEN_COMMAND`` points at a
small script that records what it was given."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from app_client import UPDATE, InProcess, make_in_process
from backends import both_backends
from dossier_support import Api, code_of, link
from harness import Server, Workstation

Ws = Callable[..., Workstation]
REFUSED, USAGE = 7, 2
OPEN_RECORDER = """import pathlib, sys
with open({log!r}, "a") as log:
    log.write(sys.argv[1] + "\\n")
"""


def recorder(tmp_path: Path) -> tuple[str, Path]:
    """A stand-in for the default program: records each path it is asked to open."""
    log = tmp_path / "opened.log"
    script = tmp_path / "open_recorder.py"
    script.write_text(OPEN_RECORDER.format(log=str(log)))
    return f"{sys.executable} {script}", log


@pytest.fixture
def anna(demo_app: InProcess) -> Api:
    return Api(demo_app, "F10001", demo_app.token("F10001", "anna", "anna-laptop"))


@pytest.fixture
def bram(demo_app: InProcess) -> Api:
    return Api(demo_app, "F10001", demo_app.token("F10001", "bram", "bram-laptop"))


@pytest.fixture
def anna_linked(demo_server: Server, workstation: Ws) -> tuple[Workstation, Api]:
    """anna's workstation linked by the real agent to a served app, and her API."""
    ws = workstation("anna-laptop")
    return ws, Api(demo_server, "F10001", link(ws, demo_server, "F10001", "anna"))


def test_destinations_import_is_idempotent_and_audited(demo_app: InProcess, tmp_path: Path) -> None:
    csv = tmp_path / "relations.csv"
    csv.write_text("code,name,kind\nD0100,Hotel Zee,debtor\nE0100,Piet Bos,Employee\n")
    first = demo_app.ok("destinations", "import", "C20001", str(csv), "--json").json()
    assert first["changed"] and (first["added"], first["updated"]) == (2, 0)
    again = demo_app.ok("destinations", "import", "C20001", str(csv), "--json").json()
    assert not again["changed"] and again["unchanged"] == 2
    csv.write_text("D0100,Hotel Zee BV,debtor\n")
    renamed = demo_app.ok("destinations", "import", "C20001", str(csv), "--json").json()
    assert renamed["updated"] == 1
    listed = demo_app.ok("destinations", "list", "C20001", "--json").json()["destinations"]
    assert {"code": "D0100", "name": "Hotel Zee BV", "kind": "debtor"} in listed
    assert {"code": "E0100", "name": "Piet Bos", "kind": "employee"} in listed
    audit = demo_app.ok(
        "audit",
        "--action",
        "destinations.import",
        "--env",
        "C20001",
        "--actor",
        "cli:test-admin",
        "--json",
    )
    assert len(audit.json()["entries"]) == 2  # the unchanged import recorded nothing

    # A bad row refuses the whole file: nothing of it is stored.
    csv.write_text("X1,Good,person\nX2,Bad,alien\n")
    bad = demo_app.admin("destinations", "import", "C20001", str(csv))
    assert bad.returncode == 5 and "alien" in bad.stderr
    codes = [
        d["code"]
        for d in demo_app.ok("destinations", "list", "C20001", "--json").json()["destinations"]
    ]
    assert "X1" not in codes
    unknown = demo_app.admin("destinations", "list", "C99999")
    assert unknown.returncode == 4


def test_item_types_and_their_groups(demo_app: InProcess, anna: Api, bram: Api) -> None:
    a = anna
    b = bram
    no_group = demo_app.admin("item-types", "create", "F10001", "Secret", "--confidential")
    assert no_group.returncode == 5 and "--group" in no_group.stderr
    unknown = demo_app.admin("item-types", "create", "F10001", "Board", "--group", "Board")
    assert unknown.returncode == 4
    demo_app.ok("groups", "create", "F10001", "Board")
    demo_app.ok("groups", "add-member", "F10001", "Board", "anna")
    demo_app.ok("item-types", "create", "F10001", "Board minutes", "--group", "Board")
    repeat = demo_app.ok("item-types", "create", "F10001", "Board minutes", "--json").json()
    assert not repeat["changed"]
    types = demo_app.ok("item-types", "list", "F10001", "--json").json()["item_types"]
    assert {
        "name": "Board minutes",
        "editable": False,
        "confidential": False,
        "groups": ["Board"],
    } in types
    assert {
        "name": "Payslip",
        "editable": False,
        "confidential": True,
        "groups": ["Payroll"],
    } in types

    assert "Board minutes" in [t["name"] for t in a.get("item-types").json()]
    assert "Board minutes" not in [t["name"] for t in b.get("item-types").json()]
    a.item("Minutes of May", "Board minutes", {"minutes.txt": b"agreed"})

    # bram is not in Board: refused, and the refusal changes nothing (his upload stays
    # his to use for a type he may use).
    upload = b.upload("minutes.txt", b"mine")
    body = {
        "submission_id": "bram-board-1",
        "subject": "x",
        "type": "Board minutes",
        "destination": "ORG",
        "uploads": [upload],
    }
    refused = b.http.post("items", json=body)
    assert refused.status_code == 403 and code_of(refused) == "not_authorized"
    assert b.get("items").json()["total"] == 1  # anna's item only
    body.update(type="Invoice")
    assert b.http.post("items", json=body).status_code == 201
    # Unknown type and destination are refusals too.
    for field_, value in (("type", "Nope"), ("destination", "NOPE")):
        other = {
            **body,
            "submission_id": f"bram-{field_}",
            field_: value,
            "uploads": [b.upload("a.txt", b"a")],
        }
        response = b.http.post("items", json=other)
        assert response.status_code == 404 and code_of(response) == "not_found"


def test_confidential_items_are_invisible_to_others(anna: Api, bram: Api) -> None:
    a = anna
    b = bram
    payslip = a.item("Payslip May", "Payslip", {"payslip.pdf": b"%PDF secret"})
    letter = a.item("Letter to bank", "Correspondence", {"letter.txt": b"dear bank"})
    pid, att = payslip["id"], payslip["attachments"][0]["id"]

    assert [i["id"] for i in a.get("items").json()["items"]] == [letter["id"], pid]
    seen_by_bram = b.get("items").json()
    assert [i["id"] for i in seen_by_bram["items"]] == [letter["id"]] and seen_by_bram["total"] == 1
    for path in (
        f"items/{pid}",
        f"items/{pid}/attachments/{att}/versions",
        f"items/{pid}/attachments/{att}/content",
    ):
        response = b.get(path)
        assert response.status_code == 404 and code_of(response) == "not_found", path
    assert b.get("items", params={"type": "Payslip"}).json()["total"] == 0
    # Bram may not file payslips either.
    assert "Payslip" not in [t["name"] for t in b.get("item-types").json()]


def test_search_filters_and_pages(anna: Api) -> None:
    a = anna
    for n in range(5):
        response = a.create_item(
            f"Invoice {n} 100%",
            "Invoice",
            "D0001" if n % 2 else "C0001",
            {f"inv{n}.txt": b"x" * n or b"0"},
        )
        assert response.status_code == 201
    a.item("Letter", "Correspondence", {"l.txt": b"l"})
    assert a.get("items", params={"type": "invoice"}).json()["total"] == 5
    assert a.get("items", params={"destination": "D0001"}).json()["total"] == 2
    assert (
        a.get("items", params={"text": "voice 3"}).json()["items"][0]["subject"] == "Invoice 3 100%"
    )
    assert a.get("items", params={"text": "100%"}).json()["total"] == 5
    assert a.get("items", params={"text": "_"}).json()["total"] == 0  # LIKE wildcards are literal
    page = a.get("items", params={"limit": 2, "offset": 2}).json()
    assert page["total"] == 6 and len(page["items"]) == 2
    assert page["items"][0]["subject"] == "Invoice 3 100%"
    assert a.get("items", params={"since": "2999-01-01T00:00:00Z"}).json()["total"] == 0
    assert a.get("items", params={"until": "2999-01-01T00:00:00Z"}).json()["total"] == 6
    bad = a.get("items", params={"limit": 0})
    assert bad.status_code == 400 and code_of(bad) == "validation_error"


def test_submission_is_idempotent_and_an_upload_is_used_once(anna: Api) -> None:
    a = anna
    upload = a.upload("one.txt", b"one")
    body = {
        "submission_id": "sub-0000001",
        "subject": "Once",
        "type": "Invoice",
        "destination": "ORG",
        "uploads": [upload],
    }
    first = a.http.post("items", json=body)
    again = a.http.post("items", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    reused = a.http.post("items", json={**body, "submission_id": "sub-0000002"})
    assert reused.status_code == 404 and code_of(reused) == "not_found"
    assert a.get("items").json()["total"] == 1


def test_another_environments_token_is_refused_on_every_route(
    demo_app: InProcess, anna: Api
) -> None:
    a = anna
    item = a.item("Letter", "Correspondence", {"l.txt": b"l"})
    iid, att = item["id"], item["attachments"][0]["id"]
    client_token = demo_app.token("C20001", "anna", "anna-laptop")
    wrong = Api(demo_app, "F10001", client_token)
    routes = [
        ("GET", "destinations"),
        ("GET", "item-types"),
        ("POST", "items"),
        ("GET", "items"),
        ("GET", f"items/{iid}"),
        ("GET", f"items/{iid}/edit"),
        ("GET", f"items/{iid}/attachments/{att}/versions"),
        ("GET", f"items/{iid}/attachments/{att}/content"),
        ("POST", f"items/{iid}/attachments/{att}/versions"),
    ]
    for method, path in routes:
        response = wrong.http.request(method, path, json={} if method == "POST" else None)
        assert response.status_code == 403, (path, response.text)
        assert code_of(response) == "token_wrong_environment", path
    nobody = demo_app.client().get("/api/v1/environments/F10001/items", headers=UPDATE)
    assert nobody.status_code == 401 and code_of(nobody) == "token_missing"


def test_downloads_range_etag_sha256_and_304(anna: Api) -> None:
    a = anna
    data = bytes(range(256)) * 4096  # 1 MiB, more than one read chunk of the store
    item = a.item("Big", "Correspondence", {"big file ë.zip": data})
    iid, att = item["id"], item["attachments"][0]
    url = f"items/{iid}/attachments/{att['id']}/content"
    whole = a.get(url)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["Koppel-Sha256"] == hashlib.sha256(data).hexdigest()
    assert whole.headers["Koppel-Version"] == "1"
    assert whole.headers["ETag"] == att["current"]["etag"]
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert "filename*=UTF-8''big%20file%20%C3%AB.zip" in whole.headers["Content-Disposition"]

    part = a.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    tail = a.get(url, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == data[-10:]
    rest = a.get(url, headers={"Range": f"bytes={len(data) - 5}-"})
    assert rest.content == data[-5:]
    beyond = a.get(url, headers={"Range": f"bytes={len(data)}-"})
    assert beyond.status_code == 416 and code_of(beyond) == "range_not_satisfiable"
    assert beyond.headers["Content-Range"] == f"bytes */{len(data)}"
    stale = a.get(url, headers={"Range": "bytes=0-9", "If-Range": '"other-1"'})
    assert stale.status_code == 200 and stale.content == data

    cached = a.get(url, headers={"If-None-Match": whole.headers["ETag"]})
    assert cached.status_code == 304 and cached.content == b""
    changed = a.get(url, headers={"If-None-Match": '"0000000000000000-1"'})
    assert changed.status_code == 200
    missing = a.get(url, params={"version": 9})
    assert missing.status_code == 404 and code_of(missing) == "not_found"


def test_an_items_content_is_its_newest_or_named_attachment(demo_app: InProcess, anna: Api) -> None:
    # What `koppel open` asks for, in one request: the item's JSON is not needed first.
    files = {"letter.txt": b"v1", "Rapport \u00e9t\u00e9.pdf": b"%PDF report"}
    item = anna.item("Letter", "Correspondence", files)
    iid = item["id"]
    by_name = {a["name"]: a for a in item["attachments"]}
    report = by_name["Rapport \u00e9t\u00e9.pdf"]

    newest = anna.get(f"items/{iid}/content")
    assert newest.status_code == 200 and newest.content == b"%PDF report"
    assert newest.headers["Koppel-Attachment-Id"] == str(report["id"])
    assert newest.headers["Koppel-Attachment-Name"] == "Rapport%20%C3%A9t%C3%A9.pdf"
    assert newest.headers["ETag"] == report["current"]["etag"]
    assert newest.headers["Koppel-Sha256"] == hashlib.sha256(b"%PDF report").hexdigest()
    assert newest.headers["Koppel-Version"] == "1"
    assert "filename*=UTF-8''Rapport%20%C3%A9t%C3%A9.pdf" in newest.headers["Content-Disposition"]
    part = anna.get(f"items/{iid}/content", headers={"Range": "bytes=0-3"})
    assert part.status_code == 206 and part.content == b"%PDF"

    named = anna.get(f"items/{iid}/content", params={"attachment": "LETTER.TXT"})
    assert named.content == b"v1"
    assert named.headers["Koppel-Attachment-Id"] == str(by_name["letter.txt"]["id"])

    # A new version, saved later, makes its attachment the newest.
    demo_app.ok("connector", "unblock", "F10001", "temporary-office-access")
    demo_app.clock.advance(minutes=5)
    letter = by_name["letter.txt"]
    assert anna.save_version(iid, letter["id"], b"v2", letter["current"]["etag"]).is_success
    again = anna.get(f"items/{iid}/content")
    assert again.content == b"v2" and again.headers["Koppel-Version"] == "2"

    unknown = anna.get(f"items/{iid}/content", params={"attachment": "nope.pdf"})
    assert unknown.status_code == 404 and code_of(unknown) == "not_found"
    assert "letter.txt" in unknown.json()["message"]
    assert code_of(anna.get("items/999/content")) == "not_found"
    empty = anna.get(f"items/{iid}/content", params={"attachment": ""})
    assert empty.status_code == 422 or code_of(empty) == "validation_error"


def test_versions_if_match_conflict_and_refusals(demo_app: InProcess, anna: Api, bram: Api) -> None:
    a = anna
    b = bram
    letter = a.item("Letter", "Correspondence", {"letter.txt": b"v1"})
    iid, att = letter["id"], letter["attachments"][0]["id"]
    etag1 = letter["attachments"][0]["current"]["etag"]

    blocked = a.save_version(iid, att, b"v2", etag1)
    assert blocked.status_code == 403 and code_of(blocked) == "connector_blocked"
    assert code_of(a.get(f"items/{iid}/edit")) == "connector_blocked"
    demo_app.ok("connector", "unblock", "F10001", "temporary-office-access")
    assert a.get(f"items/{iid}/edit").status_code == 200

    saved = a.save_version(iid, att, b"v2", etag1)
    assert saved.status_code == 201 and saved.json()["number"] == 2
    etag2 = saved.json()["etag"]
    assert saved.headers["ETag"] == etag2 != etag1

    # bram still edits version 1: refused, nothing changes.
    stale = b.save_version(iid, att, b"bram's", etag1)
    assert stale.status_code == 412 and code_of(stale) == "version_conflict"
    no_tag = b.http.post(
        f"items/{iid}/attachments/{att}/versions", json={"upload": b.upload("x.txt", b"x")}
    )
    assert no_tag.status_code == 400
    assert len(a.get(f"items/{iid}/attachments/{att}/versions").json()) == 2
    # ... unless he keeps his as a conflict version: the current version stays anna's.
    kept = b.save_version(iid, att, b"bram's", etag1, keep_as_conflict=True)
    assert kept.status_code == 201
    conflict = kept.json()
    assert conflict["number"] == 3 and conflict["conflict_of"] == 2
    assert "conflict bram" in conflict["name"] and conflict["name"].endswith(".txt")
    item = a.get(f"items/{iid}").json()
    assert item["attachments"][0]["current"]["number"] == 2
    assert item["attachments"][0]["versions"] == 3
    url = f"items/{iid}/attachments/{att}/content"
    assert a.get(url).content == b"v2"
    assert a.get(url, params={"version": 3}).content == b"bram's"
    assert a.get(url, params={"version": 1}).content == b"v1"

    invoice = a.item("Invoice", "Invoice", {"inv.txt": b"1"})
    inv_att = invoice["attachments"][0]
    refused = a.save_version(invoice["id"], inv_att["id"], b"2", inv_att["current"]["etag"])
    assert refused.status_code == 403 and code_of(refused) == "not_editable"
    assert a.get(f"items/{invoice['id']}").json()["attachments"][0]["versions"] == 1


@both_backends
def test_koppel_items_and_open(
    demo_server: Server, anna_linked: tuple[Workstation, Api], tmp_path: Path
) -> None:
    ws, a = anna_linked
    data = b"Dear sir,\n" * 1000
    letter = a.item("Letter to the bank", "Correspondence", {"letter.txt": data})
    a.item("Invoice 7", "Invoice", {"inv.txt": b"7"})
    listed = ws.ok("items", "--json").json()
    assert [i["subject"] for i in listed["items"]] == ["Invoice 7", "Letter to the bank"]
    table = ws.ok("items", "--type", "Correspondence").stdout
    assert "Letter to the bank" in table and "Invoice 7" not in table
    assert ws.ok("items", "--text", "bank", "--json").json()["total"] == 1

    command, log = recorder(tmp_path)
    ws.env["KOPPEL_OPEN_COMMAND"] = command
    opened = ws.ok("open", str(letter["id"]), "--json").json()
    path = Path(opened["path"])
    assert path.read_bytes() == data and opened["version"] == 1
    assert path.is_relative_to(ws.home) and "F10001" in path.parts
    assert opened["sha256"] == hashlib.sha256(data).hexdigest()
    for _ in range(50):
        if log.exists():
            break
        import time

        time.sleep(0.1)
    assert log.read_text().split() == [str(path)]
    assert not [p for p in path.parent.iterdir() if p.name != path.name]  # no temp left

    missing = ws.koppel("open", "999")
    assert missing.returncode != 0 and "999" in missing.stderr

    # With two environments linked and no terminal, the agent asks for --env.
    link(ws, demo_server, "C20001", "anna")
    ambiguous = ws.koppel("items")
    assert ambiguous.returncode == USAGE and "C20001, F10001" in ambiguous.stderr
    assert ws.ok("items", "--env", "C20001", "--json").json()["total"] == 0
    json.dumps(listed)


def test_racing_retries_and_saves(demo_app: InProcess, anna: Api) -> None:
    race(demo_app, anna)


@pytest.mark.postgres
def test_dossier_on_postgresql(tmp_path: Path) -> None:
    """The same races, and the confidential search, on PostgreSQL (row locks instead of
    SQLite's one writer)."""
    import uuid

    import postgres

    if not postgres.available():
        pytest.fail("PostgreSQL 15 binaries (initdb, pg_ctl) are not on the PATH")
    cluster = postgres.start_cluster()
    try:
        url = cluster.create_database(f"koppel_{uuid.uuid4().hex[:8]}")
        srv = make_in_process(tmp_path / "server", database_url=url)
        try:
            a = Api(srv, "F10001", srv.token("F10001", "anna"))
            b = Api(srv, "F10001", srv.token("F10001", "bram"))
            a.item("Payslip", "Payslip", {"p.pdf": b"p"})
            assert b.get("items").json()["total"] == 0
            assert a.get("items", params={"text": "PAY"}).json()["total"] == 1
            race(srv, a)
        finally:
            srv.close()
    finally:
        cluster.stop()


def race(server: Server | InProcess, a: Api) -> None:
    """Concurrent retries of one submission make one item; concurrent saves on one
    version make one new version, the others are refused."""
    from concurrent.futures import ThreadPoolExecutor

    upload = a.upload("race.txt", b"race")
    body = {
        "submission_id": "race-000001",
        "subject": "Race",
        "type": "Correspondence",
        "destination": "ORG",
        "uploads": [upload],
    }
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: a.http.post("items", json=body), range(4)))
    assert sorted(r.status_code for r in answers) == [200, 200, 200, 201]
    assert len({r.json()["id"] for r in answers}) == 1
    item = answers[0].json()
    iid, att = item["id"], item["attachments"][0]
    server.ok("connector", "unblock", "F10001", "temporary-office-access")
    uploads = [a.upload("race.txt", f"save {n}".encode()) for n in range(4)]

    def save(upload_id: str) -> httpx.Response:
        return a.http.post(
            f"items/{iid}/attachments/{att['id']}/versions",
            json={"upload": upload_id},
            headers={"If-Match": att["current"]["etag"]},
        )

    with ThreadPoolExecutor(4) as pool:
        saves = list(pool.map(save, uploads))
    assert sorted(r.status_code for r in saves) == [201, 412, 412, 412]
    assert len(a.get(f"items/{iid}/attachments/{att['id']}/versions").json()) == 2
