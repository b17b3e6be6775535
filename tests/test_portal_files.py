"""My files on the portal: files published with koppel-admin listed and downloaded
(byte-identical, sha256 header, ranges), an analysis requested from the page that is
pending (the page reloads itself) until the worker has made it, failed files with their
error, other users' files and a missing My files function. The app in process (its job
worker run by the test)."""

from __future__ import annotations

import hashlib
import io
import re
import sqlite3
import time
from html import unescape
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from app_client import InProcess, bearer
from koppel.i18n import local_time
from portal_client import Portal, text_of

REFRESH = '<meta http-equiv="refresh" content="2">'


def publish(srv: InProcess, env: str, login: str, path: Path) -> dict[str, Any]:
    found: dict[str, Any] = srv.ok("files", "publish", env, login, str(path), "--json").json()
    return found


def download_links(html: str) -> list[str]:
    return [unescape(h) for h in re.findall(r'href="([^"]+/files/\d+/content)"', html)]


def test_published_file_is_listed_and_downloads_byte_identical(
    demo_app: InProcess, tmp_path: Path
) -> None:
    content = b"%PDF-1.7 annual report\n" * 4000
    source = tmp_path / "Jaarrekening 2025.pdf"
    source.write_bytes(content)
    published = publish(demo_app, "F10001", "anna", source)
    with Portal(demo_app).signed_in("anna") as anna:
        page = anna.get(anna.path("environments/F10001/files"))
        assert page.status_code == 200
        assert REFRESH not in page.text  # nothing pending: no reloading
        row = text_of(page.text)
        assert "Jaarrekening 2025.pdf" in row and "Ready" in row and "KB" in row
        (link,) = download_links(page.text)
        assert link == anna.path(f"environments/F10001/files/{published['id']}/content")
        got = anna.get(link)
        assert got.status_code == 200 and got.content == content
        assert got.headers["Koppel-Sha256"] == hashlib.sha256(content).hexdigest()
        assert "Jaarrekening" in got.headers["Content-Disposition"]
        part = anna.get(link, headers={"Range": "bytes=0-7"})
        assert part.status_code == 206 and part.content == content[:8]
        assert anna.get(link, headers={"If-None-Match": got.headers["ETag"]}).status_code == 304

        # bram cannot download anna's file: for him it does not exist.
    with Portal(demo_app).signed_in("bram") as bram:
        refused = bram.get(link)
        assert refused.status_code == 404 and "no file" in text_of(refused.text)
        assert "Jaarrekening" not in bram.get(bram.path("environments/F10001/files")).text
    # Signed out, the content is not served either.
    anonymous = demo_app.client().get(link)
    assert anonymous.status_code in (303, 307) or "Sign in" in anonymous.text


def test_analysis_requested_on_the_page_is_pending_then_ready(
    tmp_path: Path, demo_app: InProcess
) -> None:
    srv = demo_app
    # No job worker runs in process (workers=0): the pending state is certain to be seen.
    with Portal(srv).signed_in("anna") as anna:
        page = anna.get(anna.path("environments/C20001/files"))
        assert "Request the dossier overview" in page.text
        assert 'value="D0001"' in page.text  # destinations offered
        answer = anna.post(anna.path("environments/C20001/analyses"), {"destination": "D0001"})
        assert answer.status_code == 200 and answer.url.path.endswith("/files")
        assert "Requested dossier-overview-C20001-D0001-" in text_of(answer.text)
        assert REFRESH in answer.text and 'id="files-pending"' in answer.text
        assert "Being prepared" in text_of(answer.text) and not download_links(answer.text)

        # A worker makes the file.
        assert srv.run_jobs() == 1
        deadline = time.monotonic() + 30
        while True:
            page = anna.get(anna.path("environments/C20001/files"))
            if REFRESH not in page.text or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert REFRESH not in page.text and "Ready" in text_of(page.text)
        (link,) = download_links(page.text)
        workbook = anna.get(link)
        assert workbook.status_code == 200
        assert workbook.headers["content-type"].startswith(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        sheet = load_workbook(io.BytesIO(workbook.content), read_only=True)["Overview"]
        header = next(sheet.iter_rows(values_only=True))
        assert list(header[:3]) == ["Item", "Created (Europe/Amsterdam)", "Subject"]

        unknown = anna.post(anna.path("environments/C20001/analyses"), {"destination": "NOPE"})
        assert unknown.status_code == 404 and "NOPE" in text_of(unknown.text)
        forged = anna.post(anna.path("environments/C20001/analyses"), {}, csrf=False)
        assert forged.status_code == 403
    with sqlite3.connect(srv.data_dir / "koppel.sqlite3") as db:
        assert db.execute("select count(*) from output_files").fetchone() == (1,)


def test_a_failed_file_shows_its_error(demo_app: InProcess, tmp_path: Path) -> None:
    source = tmp_path / "export.csv"
    source.write_text("a,b\n")
    file_id = publish(demo_app, "F10001", "anna", source)["id"]
    with sqlite3.connect(demo_app.data_dir / "koppel.sqlite3") as db:
        db.execute(
            "update output_files set state = 'failed', error = 'The export timed out.' "
            "where id = ?",
            (file_id,),
        )
    with Portal(demo_app).signed_in("anna") as anna:
        page = anna.get(anna.path("environments/F10001/files"))
        shown = text_of(page.text)
        assert "Failed" in shown and "The export timed out." in shown
        assert not download_links(page.text) and REFRESH not in page.text
        refused = anna.get(anna.path(f"environments/F10001/files/{file_id}/content"))
        assert refused.status_code == 404 and "failed" in text_of(refused.text)


def test_without_the_my_files_function_the_page_explains(demo_app: InProcess) -> None:
    demo_app.ok("users", "unauthorize", "C20002", "bram", "--function", "General/Output/My files")
    with Portal(demo_app).signed_in("bram") as bram:
        page = bram.get(bram.path("environments/C20002/files"))
        assert page.status_code == 403
        shown = text_of(page.text)
        assert "My files is not available to you in C20002" in shown
        assert "General/Output/My files" in shown and "administrator" in shown
        assert "Request the dossier overview" not in page.text
        asked = bram.post(bram.path("environments/C20002/analyses"), {"destination": ""})
        assert asked.status_code == 403
        # Another environment where he has the function still works.
        assert bram.get(bram.path("environments/C20001/files")).status_code == 200


def test_the_worker_s_reason_for_a_failed_analysis_reads_in_the_reader_s_language(
    demo_app: InProcess, tmp_path: Path
) -> None:
    # The worker stores its reason in English (it does not know who will read it); the
    # portal and the API show it in the language of the page or the agent.
    source = tmp_path / "overzicht.csv"
    source.write_text("a,b\n")
    file_id = publish(demo_app, "F10001", "anna", source)["id"]
    reason = "The analysis could not be made; ask the administrator to look at the server log."
    with sqlite3.connect(demo_app.data_dir / "koppel.sqlite3") as db:
        db.execute(
            "update output_files set state = 'failed', error = ? where id = ?", (reason, file_id)
        )
    dutch = "De analyse kon niet worden gemaakt"
    with Portal(demo_app).signed_in("anna") as anna:
        page = anna.get(
            anna.path("environments/F10001/files"), headers={"Accept-Language": "nl-NL"}
        )
        assert dutch in text_of(page.text)
    listed = demo_app.client().get(
        "/api/v1/environments/F10001/files",
        headers={**bearer(demo_app.token("F10001")), "Accept-Language": "nl"},
    )
    assert listed.status_code == 200, listed.text
    (failed,) = [f for f in listed.json()["files"] if f["id"] == file_id]
    assert failed["state"] == "failed" and failed["error"].startswith(dutch)


def test_the_dossier_overview_is_made_in_the_language_and_time_zone_of_who_asked(
    demo_app: InProcess,
) -> None:
    # A Dutch page asks; the worker (which knows no reader) makes the workbook in Dutch,
    # with the item's time in Brussels time as the user chose, and a Dutch file name.
    srv = demo_app
    with srv.transaction() as uow:
        anna_account = uow.core.account("anna")
        anna_account.time_zone = "Europe/Brussels"
        uow.core.save_account(anna_account)
    dutch = {"Accept-Language": "nl-NL"}
    with Portal(srv).signed_in("anna") as anna:
        anna.get(anna.path("environments/F10001/dossier"))
        filed = anna.post(
            anna.path("environments/F10001/dossier", "items"),
            {"subject": "Brief", "type": "Correspondence", "destination": "ORG"},
            files={"file": ("brief.txt", b"Beste klant", "text/plain")},
        )
        assert filed.status_code == 200, text_of(filed.text)
        answer = anna.post(
            anna.path("environments/F10001/analyses"), {"destination": ""}, headers=dutch
        )
        assert answer.status_code == 200, answer.text
        assert "dossieroverzicht-F10001-" in text_of(answer.text)
        assert srv.run_jobs() == 1
        (link,) = download_links(anna.get(anna.path("environments/F10001/files")).text)
        workbook = load_workbook(io.BytesIO(anna.get(link).content), read_only=True)
    assert workbook.sheetnames == ["Overzicht"]
    rows = list(workbook["Overzicht"].iter_rows(values_only=True))
    assert list(rows[0][:3]) == ["Dossieritem", "Aangemaakt (Europe/Brussels)", "Onderwerp"]
    with srv.transaction() as uow:
        environment = uow.core.environment("F10001")
        assert environment is not None
        item = uow.dossier.item(environment.id, int(rows[1][0]))
        assert item is not None
    local = local_time(item.created, "Europe/Brussels").replace(tzinfo=None)
    assert abs((rows[1][1] - local).total_seconds()) < 1  # Excel keeps whole milliseconds
