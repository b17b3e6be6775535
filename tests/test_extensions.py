"""Allowed file extensions per environment (issue 9, item 10), in process: every way a
file enters refuses a type the environment does not accept before any of it is kept, with
``extension_not_allowed`` and the list; the administration pages change the list; the
migration prefills existing environments with the extensions their files already use."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app_client import InProcess, bearer, make_in_process
from portal_client import text_of
from portal_in_process import PortalBrowser

UPLOADS = "/api/v1/environments/C20001/uploads"
# Part of the default list, and types it must never hold.
OFFICE = {"pdf", "docx", "xlsx", "csv", "txt", "xml", "jpg", "png", "eml", "msg", "zip"}
NEVER = {"exe", "js", "html", "htm", "bat", "cmd", "ps1", "vbs", "msi", "scr", "lnk", "svg"}


def _meta(**pairs: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in pairs.items())


def _create(app: InProcess, token: str, name: str, length: int = 10) -> httpx.Response:
    return app.client().post(
        UPLOADS,
        headers={
            **bearer(token),
            "Tus-Resumable": "1.0.0",
            "Upload-Length": str(length),
            "Upload-Metadata": _meta(filename=name),
        },
    )


def _upload_rows(app: InProcess) -> list[Any]:
    with app.sql() as connection:
        return list(connection.exec_driver_sql("SELECT id, filename FROM uploads"))


def _stored(app: InProcess) -> list[Path]:
    return sorted(p for p in (app.svc.settings.data_dir / "blobs").rglob("*") if p.is_file())


def _refused(response: httpx.Response, name: str, env: str = "C20001") -> dict[str, Any]:
    """The refusal of ``name``: its code, the list in the JSON, a message naming the list
    and the administrator's command."""
    assert response.status_code == 415, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == "extension_not_allowed"
    assert body["environment"] == env
    assert set(body["allowed_extensions"]) >= OFFICE and not NEVER & set(body["allowed_extensions"])
    message = body["message"]
    assert repr(name) in message and ".pdf" in message and ".docx" in message
    assert f"koppel-admin extensions allow {env}" in message
    return body


def test_tus_creation_refuses_a_type_not_accepted_before_any_byte(demo_app: InProcess) -> None:
    token = demo_app.token("C20001")
    before = _stored(demo_app)
    for name in ("setup.exe", "invoice.pdf.exe", "script.JS", "page.html", "README"):
        body = _refused(_create(demo_app, token, name), name)
        if name == "README":
            assert "without an extension" in body["message"]
            assert "extensions allow C20001 ." in body["message"]
        else:
            assert "extensions allow C20001 " + name.rsplit(".", 1)[1].lower() in body["message"]
    # Nothing of the refused files exists: no upload row, no byte stored.
    assert _upload_rows(demo_app) == [] and _stored(demo_app) == before
    # Accepted types in any case; the last extension decides.
    for name in ("Scan.PDF", "jaarrekening.2025.xlsx", "mail.eml"):
        assert _create(demo_app, token, name).status_code == 201, name
    assert sorted(row.filename for row in _upload_rows(demo_app)) == [
        "Scan.PDF",
        "jaarrekening.2025.xlsx",
        "mail.eml",
    ]


def test_upload_rules_tell_the_agent_the_limit_and_the_list(demo_app: InProcess) -> None:
    token = demo_app.token("C20001")
    client = demo_app.client()
    rules = client.get("/api/v1/environments/C20001/upload-rules", headers=bearer(token))
    assert rules.status_code == 200, rules.text
    data = rules.json()
    assert data["environment"] == "C20001" and data["default"] is True
    assert data["max_bytes"] == demo_app.svc.settings.upload_limits().max_bytes
    assert set(data["allowed_extensions"]) >= OFFICE and not NEVER & set(data["allowed_extensions"])
    assert "" not in data["allowed_extensions"]  # names without an extension: not by default
    other = client.get("/api/v1/environments/C20002/upload-rules", headers=bearer(token))
    assert other.status_code == 403 and other.json()["code"] == "token_wrong_environment"
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/api/v1/environments/{env}/upload-rules"]["get"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/UploadRules"
    )
    assert "extension_not_allowed" in spec["components"]["schemas"]["ErrorCode"]["enum"]
    assert "allowed_extensions" in spec["components"]["schemas"]["ErrorBody"]["properties"]


def _integration_key(app: InProcess) -> dict[str, str]:
    """The Authorization header of a new integration key for C20001."""
    from koppel.server.domain import integrations

    with app.transaction() as uow:
        key, _ = integrations.create(
            uow.core, uow.integration_keys, app.svc.policy, "cli:test", "C20001",
            f"scanner-{len(uow.core.audit_entries(limit=1000))}",
        )  # fmt: skip
    return {"Authorization": f"Bearer {key}"}


def _push(app: InProcess, name: str, data: bytes = b"payload") -> httpx.Response:
    return app.client().post(
        "/api/v1/environments/C20001/users/bram/files",
        headers={
            "Koppel-Filename": name,
            "Content-Type": "application/octet-stream",
            **_integration_key(app),
        },
        content=data,
    )


def _output_files(app: InProcess) -> list[str]:
    with app.sql() as connection:
        return [row.name for row in connection.exec_driver_sql("SELECT name FROM output_files")]


def test_the_integration_push_refuses_a_type_not_accepted(demo_app: InProcess) -> None:
    before = _stored(demo_app)
    for name in ("payroll.exe", "export.csv.js"):
        _refused(_push(demo_app, name), name)
    assert _output_files(demo_app) == [] and _stored(demo_app) == before
    multipart = demo_app.client().post(
        "/api/v1/environments/C20001/users/bram/files",
        headers=_integration_key(demo_app),
        files={"file": ("index.html", b"<script>alert(1)</script>", "text/html")},
    )
    _refused(multipart, "index.html")
    assert _output_files(demo_app) == [] and _stored(demo_app) == before
    accepted = _push(demo_app, "Loonstrook 2026-03.PDF")
    assert accepted.status_code == 201, accepted.text
    assert _output_files(demo_app) == ["Loonstrook 2026-03.PDF"]


def _items(app: InProcess) -> int:
    with app.sql() as connection:
        return int(connection.exec_driver_sql("SELECT count(*) FROM items").scalar_one())


def test_the_portal_form_refuses_a_type_not_accepted(demo_app: InProcess) -> None:
    portal = PortalBrowser(demo_app).signed_in("anna")
    dossier = portal.path("environments", "C20001", "dossier")
    page = portal.get(dossier)
    assert page.status_code == 200
    # The form says which types it accepts, and hints them to the browser's file picker.
    assert "Accepted file types: .7z," in text_of(page.text)
    assert re.search(r'accept="[^"]*\.pdf,', page.text)
    before = _stored(demo_app)
    fields = {"subject": "Setup", "type": "Invoice", "destination": "D0001"}
    refused = portal.post(
        portal.path("environments", "C20001", "dossier", "items"),
        fields,
        files={"file": ("setup.exe", b"MZ" + b"\0" * 5000, "application/octet-stream")},
    )
    assert refused.status_code == 415, text_of(refused.text)
    shown = text_of(refused.text)
    assert "File type not accepted" in shown and "'setup.exe' cannot be uploaded to C20001" in shown
    assert "koppel-admin extensions allow C20001 exe" in shown and "extension_not_allowed" in shown
    assert _items(demo_app) == 0 and _stored(demo_app) == before
    portal.get(dossier)
    filed = portal.post(
        portal.path("environments", "C20001", "dossier", "items"),
        fields | {"subject": "Invoice"},
        files={"file": ("Factuur.PDF", b"%PDF-1.7 factuur", "application/pdf")},
    )
    assert filed.status_code == 200 and "Filed item" in text_of(filed.text), text_of(filed.text)
    assert _items(demo_app) == 1
    # Adding an attachment to that item goes through the same check.
    item_page = filed.url.path
    portal.get(item_page)
    added = portal.post(
        f"{item_page}/attachments",
        files={"file": ("macro.vbs", b"MsgBox 1", "text/plain")},
    )
    assert added.status_code == 415 and "'macro.vbs'" in text_of(added.text)


def _audit(app: InProcess, action: str) -> list[Any]:
    with app.transaction() as uow:
        return uow.core.audit_entries(environment="C20001", action=action)


def test_the_admin_page_changes_the_list_and_uploads_follow(demo_app: InProcess) -> None:
    token = demo_app.token("C20001")
    portal = PortalBrowser(demo_app).signed_in("anna")
    page_path = portal.path("admin", "C20001", "extensions")
    checklist = portal.get(portal.path("admin"))
    assert page_path in checklist.text
    page = portal.get(page_path)
    assert page.status_code == 200, text_of(page.text)
    assert "uses the default list" in text_of(page.text)
    assert _create(demo_app, token, "ledger.qif").status_code == 415

    allowed = portal.post(page_path + "/allow", {"extensions": ".QIF, mt940"})
    assert allowed.status_code == 200, text_of(allowed.text)
    assert "now allowed in C20001: .mt940, .qif" in text_of(allowed.text)
    assert 'data-extension="qif"' in allowed.text and 'data-extension="mt940"' in allowed.text
    assert _create(demo_app, token, "ledger.qif").status_code == 201

    removed = portal.post(page_path + "/remove", {"extension": "pdf"})
    assert "no longer allowed in C20001: .pdf" in text_of(removed.text)
    _refused_pdf = _create(demo_app, token, "invoice.pdf")
    assert (
        _refused_pdf.status_code == 415 and "pdf" not in _refused_pdf.json()["allowed_extensions"]
    )
    # The same change again changes nothing and records nothing.
    portal.post(page_path + "/remove", {"extension": "pdf"})
    entries = _audit(demo_app, "extensions")
    assert [(e.action, e.actor, e.detail["extensions"]) for e in reversed(entries)] == [
        ("extensions.allow", "anna", ["mt940", "qif"]),
        ("extensions.remove", "anna", ["pdf"]),
    ]
    # A form without its CSRF token changes nothing.
    forged = portal.http.post(page_path + "/allow", data={"extensions": "exe"})
    assert forged.status_code == 403
    assert _create(demo_app, token, "setup.exe").status_code == 415

    reset = portal.post(page_path + "/reset")
    assert "C20001 uses the default extensions again" in text_of(reset.text)
    assert _create(demo_app, token, "invoice.pdf").status_code == 201
    assert _create(demo_app, token, "ledger.qif").status_code == 415
    assert [e.action for e in _audit(demo_app, "extensions.reset")] == ["extensions.reset"]


def test_only_administrators_see_and_change_the_list(demo_app: InProcess) -> None:
    bram = PortalBrowser(demo_app).signed_in("bram")  # not General/Management/App connector
    page_path = bram.path("admin", "C20001", "extensions")
    assert bram.get(page_path).status_code == 404
    bram.get(bram.path())  # a CSRF token of his own session
    refused = bram.post(page_path + "/allow", {"extensions": "exe"})
    assert refused.status_code == 404
    assert _audit(demo_app, "extensions") == []
    assert _create(demo_app, demo_app.token("C20001"), "setup.exe").status_code == 415


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """No URL (the embedded SQLite), or a database of a throwaway PostgreSQL 15."""
    if request.param == "sqlite":
        yield None
        return
    import postgres

    if not postgres.available():
        pytest.fail("PostgreSQL 15 binaries (initdb, pg_ctl) are not on the PATH")
    cluster = postgres.start_cluster()
    try:
        yield cluster.create_database("koppel_migration")
    finally:
        cluster.stop()


def test_migration_prefills_existing_environments_with_the_extensions_in_use(
    tmp_path: Path, database_url: str | None
) -> None:
    from alembic import command
    from sqlalchemy import insert, select

    from koppel.server.adapters.assembly import create_services
    from koppel.server.adapters.db import migrate
    from koppel.server.adapters.db.tables import core as t
    from koppel.server.adapters.db.tables import dossier as d
    from koppel.server.adapters.db.tables import my_files as o
    from koppel.server.config import ServerSettings
    from koppel.server.demo import create_demo

    data_dir = tmp_path / "server"
    old = create_services(
        ServerSettings(data_dir=data_dir, database_url=database_url, workers=0), migrate=False
    )
    config = migrate._config()
    with old.database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    create_demo(old)  # this release's demo needs this release's tables
    with old.database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0008")  # the database as the previous releases left it
    with old.database.transaction() as uow:
        # Plain column reads: the repositories read this release's columns, which a
        # database of 0008 does not have yet.
        def environment_id(code: str) -> int:
            e = t.environments
            return int(uow.connection.execute(select(e.c.id).where(e.c.code == code)).scalar_one())

        def membership_id(environment: int, login: str) -> int:
            m, a = t.memberships, t.accounts
            query = (
                select(m.c.id)
                .join(a, a.c.id == m.c.account_id)
                .where(m.c.environment_id == environment, a.c.login == login)
            )
            return int(uow.connection.execute(query).scalar_one())

        c20001, c20002 = environment_id("C20001"), environment_id("C20002")
        anna, bram = membership_id(c20001, "anna"), membership_id(c20002, "bram")
        destination = uow.connection.execute(
            d.destinations.select().where(d.destinations.c.environment_id == c20001)
        ).first()
        item_type = uow.connection.execute(
            d.item_types.select().where(d.item_types.c.environment_id == c20001)
        ).first()
        assert destination is not None and item_type is not None
        now = old.policy.clock()
        item = uow.connection.execute(
            insert(d.items).values(
                environment_id=c20001, subject="Ledger", item_type_id=item_type.id,
                destination_id=destination.id, author_membership_id=anna, created_at=now,
            )
        ).inserted_primary_key[0]  # fmt: skip
        attachment = uow.connection.execute(
            insert(d.attachments).values(item_id=item, name="ledger.qif")
        ).inserted_primary_key[0]
        for number, name in ((1, "ledger.qif"), (2, "ledger (conflict anna).QIF")):
            uow.connection.execute(
                insert(d.attachment_versions).values(
                    attachment_id=attachment, number=number, name=name, media_type="text/plain",
                    size=10, sha256="0" * 64, blob_key=f"uploads/f{number}",
                    author_membership_id=anna, created_at=now,
                )
            )  # fmt: skip
        # An integration pushed bank statements into C20002's My files.
        uow.connection.execute(
            insert(o.output_files).values(
                environment_id=c20002, membership_id=bram, name="bank.MT940",
                media_type="text/plain", size=10, sha256="0" * 64, blob_key="outbox/x",
                state="ready", source="pushed", created_at=now,
            )
        )  # fmt: skip
    old.database.dispose()

    # Starts by upgrading the database to the newest schema.
    app = make_in_process(data_dir, demo=False, database_url=database_url)
    try:
        client = app.client()

        def rules(env: str) -> dict[str, Any]:
            answer = client.get(
                f"/api/v1/environments/{env}/upload-rules", headers=bearer(app.token(env))
            )
            assert answer.status_code == 200, answer.text
            found: dict[str, Any] = answer.json()
            return found

        c1, c2, c3 = rules("C20001"), rules("C20002"), rules("C20003")
        from koppel.server.domain.transfer.extensions import DEFAULT_EXTENSIONS

        default = set(c3["allowed_extensions"])
        assert default == DEFAULT_EXTENSIONS  # the migration's frozen copy is this release's
        assert set(c1["allowed_extensions"]) == default | {"qif"}
        assert set(c2["allowed_extensions"]) == default | {"mt940"}
        # Existing environments have their own list now; later ones use the default.
        assert (c1["default"], c2["default"], c3["default"]) == (False, False, False)
        upload = client.post(
            "/api/v1/environments/C20001/uploads",
            headers={
                **bearer(app.token("C20001")),
                "Tus-Resumable": "1.0.0",
                "Upload-Length": "5",
                "Upload-Metadata": _meta(filename="march.qif"),
            },
        )
        assert upload.status_code == 201, upload.text
    finally:
        app.close()


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        (["QIF"], ["qif"]),
        ([".mt940,  csv"], ["mt940", "csv"]),
        (["."], [""]),
        (["7z c++"], ["7z", "c++"]),
    ],
)
def test_extensions_as_administrators_type_them(given: list[str], stored: list[str]) -> None:
    from koppel.server.domain.transfer import extensions

    assert extensions.parse(given) == stored


def test_unusable_extensions_are_refused_whole() -> None:
    from koppel.protocol.errors import ErrorCode
    from koppel.server.domain.errors import DomainError
    from koppel.server.domain.transfer import extensions

    for given in (["tar.gz"], ["pdf", "a/b"], [""], ["x" * 33]):
        with pytest.raises(DomainError) as refused:
            extensions.parse(given)
        assert refused.value.code is ErrorCode.VALIDATION_ERROR


def test_the_default_holds_no_type_that_runs_code() -> None:
    from koppel.server.domain.transfer.extensions import DEFAULT_EXTENSIONS, RISKY_EXTENSIONS

    assert not DEFAULT_EXTENSIONS & RISKY_EXTENSIONS
    assert NEVER <= RISKY_EXTENSIONS
