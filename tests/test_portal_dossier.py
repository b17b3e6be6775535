"""The dossier on the portal: browsing and searching, uploading a new item, an
attachment and a version (streamed, with the server's size limit), downloads, who may
see confidential items, the "Edit on my computer" koppel:// link and CSRF. The app in
process; served on a port where the real agent sees what the portal filed."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Callable, Iterator
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest

from app_client import InProcess, make_in_process
from dossier_support import link
from harness import Server, Workstation
from koppel.protocol.links import parse_link
from portal_client import Portal, text_of
from portal_in_process import PortalBrowser

Ws = Callable[..., Workstation]
DOSSIER = "environments/F10001/dossier"


def file_item(portal: Portal, subject: str, type_name: str, name: str, data: bytes,
              destination: str = "ORG", **kwargs: Any) -> httpx.Response:  # fmt: skip
    """Post the "File a new item" form (after opening the dossier page, as a browser)."""
    portal.get(portal.path(DOSSIER))
    return portal.post(
        portal.path(DOSSIER, "items"),
        {"subject": subject, "type": type_name, "destination": destination},
        files={"file": (name, data, "application/octet-stream")},
        **kwargs,
    )


def item_id_of(response: httpx.Response) -> int:
    found = re.search(r"/dossier/items/(\d+)$", response.url.path)
    assert found, (response.url, text_of(response.text))
    return int(found.group(1))


def count_items(srv: Server | InProcess) -> int:
    with sqlite3.connect(srv.data_dir / "koppel.sqlite3") as db:
        (count,) = db.execute("select count(*) from items").fetchone()
    return int(count)


def stored_files(srv: Server | InProcess) -> list[Path]:
    return [p for p in (srv.data_dir / "blobs").rglob("*") if p.is_file()]


def edit_links(html: str) -> list[str]:
    return [unescape(h) for h in re.findall(r'href="(koppel://[^"]+)"', html)]


@pytest.fixture
def small_server(tmp_path: Path) -> Iterator[InProcess]:
    """The demo practice on a server that takes at most 1 MB per file."""
    srv = make_in_process(tmp_path / "server", max_upload_mb=1)
    try:
        yield srv
    finally:
        srv.close()


def test_upload_files_an_item_the_agent_sees_and_downloads_match(
    demo_server: Server, workstation: Ws
) -> None:
    data = bytes(range(256)) * 3000 + b"end"
    with Portal(demo_server).signed_in("anna") as anna:
        page = anna.get(anna.path(DOSSIER))
        shown = text_of(page.text)
        assert "D0001" in shown and "Hotel De Kroon" in shown and "debtor" in shown
        assert "at most 75.0 MB" in shown
        filed = file_item(anna, "Invoice March", "Invoice", "factuur maart.pdf", data, "D0001")
        assert filed.status_code == 200, text_of(filed.text)
        item_id = item_id_of(filed)
        page_text = text_of(filed.text)
        assert f"Filed item {item_id} with factuur maart.pdf" in page_text
        for fact in ("Invoice March", "Invoice", "D0001", "anna", "Web portal",
                     "factuur maart.pdf", hashlib.sha256(data).hexdigest()):  # fmt: skip
            assert fact in page_text, fact
        content = anna.path(DOSSIER, f"items/{item_id}/attachments")
        (href,) = set(re.findall(rf'href="({re.escape(content)}/\d+/content)"', filed.text))
        got = anna.get(href)
        assert got.status_code == 200 and got.content == data
        assert got.headers["Koppel-Sha256"] == hashlib.sha256(data).hexdigest()
        assert anna.get(href, headers={"Range": "bytes=1-2"}).content == data[1:3]
        assert anna.get(href + "?version=1").content == data

        # Searching: by text, type, destination and date.
        found = anna.get(anna.path(DOSSIER), params={"text": "march", "type": "Invoice"})
        assert "Invoice March" in text_of(found.text)
        none = anna.get(anna.path(DOSSIER), params={"destination": "C0001"})
        assert "Invoice March" not in none.text and "No items match" in text_of(none.text)
        old = anna.get(anna.path(DOSSIER), params={"until": "2001-01-01"})
        assert "Invoice March" not in old.text
        bad = anna.get(anna.path(DOSSIER), params={"since": "yesterday"})
        assert bad.status_code == 400 and "not a date" in text_of(bad.text)

        # Another attachment on the item page.
        added = anna.post(
            anna.path(DOSSIER, f"items/{item_id}/attachments"),
            files={"file": ("bijlage.txt", b"annex", "text/plain")},
        )
        assert added.status_code == 200 and "Added bijlage.txt" in text_of(added.text)
        twice = anna.post(
            anna.path(DOSSIER, f"items/{item_id}/attachments"),
            files={"file": ("bijlage.txt", b"again", "text/plain")},
        )
        assert twice.status_code == 400 and "new version" in text_of(twice.text)

    # The agent lists the item the portal filed, with both attachments.
    ws = workstation("anna-laptop")
    link(ws, demo_server, "F10001", "anna")
    listed = ws.ok("items", "--text", "March", "--json").json()
    assert listed["total"] == 1
    (item,) = listed["items"]
    assert item["id"] == item_id and item["source_workstation"] == "Web portal"
    assert sorted(a["name"] for a in item["attachments"]) == ["bijlage.txt", "factuur maart.pdf"]


def test_new_version_from_the_item_page_detects_a_concurrent_save(demo_app: InProcess) -> None:
    demo_app.ok("connector", "unblock", "F10001", "temporary-office-access")
    with Portal(demo_app).signed_in("anna") as anna:
        item_id = item_id_of(file_item(anna, "Letter", "Correspondence", "letter.txt", b"v1"))
        page = anna.get(anna.path(DOSSIER, f"items/{item_id}"))
        (action,) = re.findall(r'action="([^"]+/versions)"', page.text)
        etag = unescape(re.findall(r'name="if_match" value="([^"]+)"', page.text)[0])
        saved = anna.post(
            action, {"if_match": etag}, files={"file": ("letter-v2.txt", b"v2", "text/plain")}
        )
        assert saved.status_code == 200 and "Saved letter.txt as version 2" in text_of(saved.text)
        # The same (now stale) form again: version 2 was saved since, nothing is replaced.
        stale = anna.post(
            action, {"if_match": etag}, files={"file": ("l.txt", b"v3", "text/plain")}
        )
        assert stale.status_code == 412 and "changed since you opened it" in text_of(stale.text)
        current = anna.get(action.replace("/versions", "/content"))
        assert current.content == b"v2" and current.headers["Koppel-Version"] == "2"


def test_upload_over_the_limit_is_refused_and_nothing_is_kept(small_server: InProcess) -> None:
    srv = small_server
    before = stored_files(srv)
    with Portal(srv).signed_in("anna") as anna:
        assert "at most 1.00 MB" in text_of(anna.get(anna.path(DOSSIER)).text)
        # Declared too large: refused from Content-Length, before any byte is read.
        big = file_item(anna, "Big", "Invoice", "big.zip", b"x" * (3 * 1024 * 1024))
        assert big.status_code == 413
        assert "at most 1.00 MB (1,048,576 bytes) per file" in text_of(big.text)
        # Just over the limit, within the room for the other fields: stopped while counting.
        over = file_item(anna, "Over", "Invoice", "over.zip", b"x" * (1024 * 1024 + 10))
        assert over.status_code == 413
        assert "at most 1.00 MB (1,048,576 bytes) per file" in text_of(over.text)

        # A client that declares no length (chunked) is stopped at the limit as well.
        boundary = "koppel-test-boundary"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
            f"{anna.csrf}\r\n"
            f'--{boundary}\r\nContent-Disposition: form-data; name="subject"\r\n\r\nX\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="type"\r\n\r\nInvoice\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="destination"\r\n\r\nORG\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="lie.zip"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()

        def body() -> Iterator[bytes]:
            yield head
            for _ in range(40):  # 2.5 MB in pieces
                yield b"y" * 65536
            yield f"\r\n--{boundary}--\r\n".encode()

        lying = anna.http.post(
            anna.path(DOSSIER, "items"),
            content=body(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        assert lying.status_code == 413 and "at most 1.00 MB" in text_of(lying.text)

        # Exactly the limit is fine.
        fits = file_item(anna, "Fits", "Invoice", "fits.zip", b"z" * (1024 * 1024))
        assert fits.status_code == 200, text_of(fits.text)
    assert count_items(srv) == 1
    # The refused uploads left no bytes behind (one blob: the file that fitted).
    assert len(stored_files(srv)) == len(before) + 1


def test_unsafe_empty_and_unusable_uploads_are_refused(demo_app: InProcess) -> None:
    with Portal(demo_app).signed_in("bram") as bram:
        unsafe = file_item(bram, "Bad name", "Invoice", "CON.txt", b"data")
        assert unsafe.status_code == 400
        assert "CON.txt" in text_of(unsafe.text) and "Windows reserves" in text_of(unsafe.text)
        slashes = file_item(bram, "Bad name", "Invoice", "a<b>.txt", b"data")
        assert slashes.status_code == 400 and "not allowed" in text_of(slashes.text)
        empty = file_item(bram, "Empty", "Invoice", "empty.txt", b"")
        assert empty.status_code == 400 and "empty" in text_of(empty.text)
        # bram is not in Payroll: the confidential type is refused to him.
        payslip = file_item(bram, "Payslip", "Payslip", "p.pdf", b"pay")
        assert payslip.status_code == 403 and "Payslip" in text_of(payslip.text)
        unknown = file_item(bram, "Nowhere", "Invoice", "n.txt", b"n", destination="ZZZ")
        assert unknown.status_code == 404 and "ZZZ" in text_of(unknown.text)
        no_subject = file_item(bram, "  ", "Invoice", "n.txt", b"n")
        assert no_subject.status_code == 400 and "subject" in text_of(no_subject.text)
    assert count_items(demo_app) == 0
    assert not [p for p in stored_files(demo_app) if "portal" in p.parts]


def test_confidential_items_are_invisible_to_bram(demo_app: InProcess) -> None:
    with Portal(demo_app).signed_in("anna") as anna:
        filed = file_item(anna, "Payslip Sanne", "Payslip", "payslip.pdf", b"salary", "E0001")
        item_id = item_id_of(filed)
        assert "confidential" in text_of(filed.text)
        content = re.findall(r'href="([^"]+/content)"', filed.text)[0]
        assert "Payslip Sanne" in anna.get(anna.path(DOSSIER)).text
    with Portal(demo_app).signed_in("bram") as bram:
        page = bram.get(bram.path(DOSSIER))
        assert "Payslip Sanne" not in page.text
        assert '<option value="Payslip"' not in page.text  # neither to search nor to file
        assert bram.get(bram.path(DOSSIER), params={"type": "Payslip"}).status_code == 200
        item = bram.get(bram.path(DOSSIER, f"items/{item_id}"))
        assert item.status_code == 404 and "salary" not in item.text
        assert bram.get(content).status_code == 404
        added = bram.post(
            bram.path(DOSSIER, f"items/{item_id}/attachments"),
            files={"file": ("x.txt", b"x", "text/plain")},
        )
        assert added.status_code == 404


def test_edit_button_is_a_koppel_link_only_for_editable_items(demo_app: InProcess) -> None:
    with Portal(demo_app).signed_in("anna") as anna:
        letter = item_id_of(
            file_item(anna, "Letter", "Correspondence", "brief aan bank.docx", b"1")
        )
        invoice = item_id_of(file_item(anna, "Invoice", "Invoice", "invoice.pdf", b"2"))

        # Editable type, but temporary-office-access is still blocked: explained, no button.
        blocked = anna.get(anna.path(DOSSIER, f"items/{letter}"))
        assert not edit_links(blocked.text)
        assert "temporary-office-access" in text_of(blocked.text)
    # bram administers nothing: the reason in plain words, in his language, no command.
    bram = PortalBrowser(demo_app)
    bram.http = demo_app.client(headers={"Accept-Language": "nl"})
    bram.signed_in("bram")
    shown = text_of(bram.get(bram.path(DOSSIER, f"items/{letter}")).text)
    assert "Bewerken op uw computer is nu niet mogelijk: de app-connector voor " in shown
    assert "koppel-admin" not in shown
    shown = text_of(bram.get(bram.path(DOSSIER, f"items/{invoice}")).text)
    assert "Dossieritems van het type ‘Invoice’ kunt u niet op uw computer bewerken" in shown
    with Portal(demo_app).signed_in("anna") as anna:
        demo_app.ok("connector", "unblock", "F10001", "temporary-office-access")
        page = anna.get(anna.path(DOSSIER, f"items/{letter}"))
        assert "Edit on my computer" in page.text
        (url,) = edit_links(page.text)
        assert url.startswith("koppel://edit?")
        assert "brief%20aan%20bank.docx" in url and " " not in url
        parsed = parse_link(url)
        assert (parsed.server, parsed.environment, parsed.item, parsed.attachment) == (
            demo_app.url,
            "F10001",
            letter,
            "brief aan bank.docx",
        )

        other = anna.get(anna.path(DOSSIER, f"items/{invoice}"))
        assert "Edit on my computer" not in other.text and not edit_links(other.text)
        assert "cannot be edited" in text_of(other.text)
        assert 'name="if_match"' not in other.text  # no new-version form either


def test_forms_without_the_csrf_token_change_nothing(demo_app: InProcess) -> None:
    with Portal(demo_app).signed_in("anna") as anna:
        missing = file_item(anna, "Forged", "Invoice", "f.txt", b"forged", csrf=False)
        assert missing.status_code == 403 and "nothing was uploaded" in text_of(missing.text)
        wrong = file_item(anna, "Forged", "Invoice", "f.txt", b"forged",
                          csrf=False, headers={"X-CSRF-Token": "not-the-token"})  # fmt: skip
        assert wrong.status_code == 403
        item_id = item_id_of(file_item(anna, "Real", "Invoice", "r.txt", b"real"))
        add = anna.post(
            anna.path(DOSSIER, f"items/{item_id}/attachments"),
            files={"file": ("x.txt", b"x", "text/plain")},
            csrf=False,
        )
        assert add.status_code == 403
    assert count_items(demo_app) == 1
    assert len([p for p in stored_files(demo_app) if "portal" in p.parts]) == 1
