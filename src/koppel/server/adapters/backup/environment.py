"""``koppel-admin env export`` / ``env restore``: one environment, its rows and its file
contents in one zip file, so that it moves to another host or from SQLite to
PostgreSQL without loss.

The file holds ``export.json`` (what, from where, when), ``environment.json`` (the rows),
``manifest.json`` (every content with its size and SHA-256) and ``blobs/<key>``. Rows
are numbered afresh from 1 per table in the source's order and refer to each other by
those numbers; accounts are named by login and the managing firm by its code. A restore
inserts them in the same order, so that exporting the restored environment again gives
the same ``environment.json``.

What moves: the environment, its users (accounts with their password hashes, portal
access), groups, authorizations, app connectors, destinations, item types, items,
attachments and every version, finished My files and their deliveries, the allowed
extensions, a firm's dossier templates, integration API keys (hashes) and the audit
trail. What does not: workstation links (user tokens, settings files not yet used,
device approvals; agents link again), two-step verification (bound to the source's
secret key: users set it up again), sessions, events (notifications agents have
caught up on by listing), jobs and unfinished uploads."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table, insert, select, text
from sqlalchemy.engine import Connection, Engine

from koppel._version import __version__
from koppel.server.adapters.backup import manifest
from koppel.server.adapters.backup.errors import BackupRefused
from koppel.server.adapters.backup.manifest import Blob
from koppel.server.adapters.db import migrate
from koppel.server.adapters.db.tables import core as t
from koppel.server.adapters.db.tables import credentials as tc
from koppel.server.adapters.db.tables import dossier as td
from koppel.server.adapters.db.tables import extensions as tx
from koppel.server.adapters.db.tables import my_files as tm
from koppel.server.adapters.db.tables import templates as tt
from koppel.server.adapters.db.tables.core import UTCDateTime
from koppel.server.adapters.private_files import open_private
from koppel.server.domain.transfer.blobs import BlobNotFound, BlobStore

FORMAT = 1
KIND = "koppel-environment"
NOT_MOVED = [
    "workstation links (user tokens): the environment's users link their workstations "
    "again with a new settings file",
    "two-step verification: users who had it set it up again at their next sign-in",
    "events, sessions, jobs and unfinished uploads",
]


@dataclass(frozen=True)
class Part:
    """One table of the export: how its rows are found and how they refer to others.

    ``refs`` maps a column to the part whose numbers it holds; ``under`` is the column
    (and part) whose exported rows select this table's rows when it has no
    ``environment_id`` of its own."""

    name: str
    table: Table
    refs: Mapping[str, str] = field(default_factory=dict)
    under: tuple[str, str] | None = None
    numbered: bool = True  # has an ``id`` of its own


PARTS = [
    Part("memberships", t.memberships),
    Part("groups", t.groups),
    Part(
        "group_members",
        t.group_members,
        {"group_id": "groups", "membership_id": "memberships"},
        under=("group_id", "groups"),
        numbered=False,
    ),
    Part(
        "authorizations", t.authorizations, {"group_id": "groups", "membership_id": "memberships"}
    ),
    Part("connectors", t.connectors),
    Part("destinations", td.destinations),
    Part("item_types", td.item_types),
    Part(
        "item_type_groups",
        td.item_type_groups,
        {"item_type_id": "item_types", "group_id": "groups"},
        under=("item_type_id", "item_types"),
        numbered=False,
    ),
    Part(
        "items",
        td.items,
        {
            "item_type_id": "item_types",
            "destination_id": "destinations",
            "author_membership_id": "memberships",
        },
    ),
    Part("attachments", td.attachments, {"item_id": "items"}, under=("item_id", "items")),
    Part(
        "attachment_versions",
        td.attachment_versions,
        {"attachment_id": "attachments", "author_membership_id": "memberships"},
        under=("attachment_id", "attachments"),
    ),
    Part("my_files", tm.output_files, {"membership_id": "memberships"}),
    Part(
        "my_file_deliveries",
        tm.output_deliveries,
        {"output_file_id": "my_files"},
        under=("output_file_id", "my_files"),
    ),
    Part("extension_allowlists", tx.extension_allowlists, numbered=False),
    Part("template_destinations", tt.dossier_template_destinations),
    Part("template_item_types", tt.dossier_template_item_types),
    Part("integration_keys", tc.integration_keys),
]


def _owner_column(part: Part) -> str | None:
    for name in ("environment_id", "firm_id"):
        if name in part.table.c:
            return name
    return None


@dataclass
class TransferReport:
    """What an export wrote or a restore put in place."""

    environment: str
    file: Path
    counts: dict[str, int]
    blobs: int
    bytes: int
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` summary."""
        return {
            "environment": self.environment,
            "file": str(self.file),
            "counts": self.counts,
            "blobs": self.blobs,
            "bytes": self.bytes,
            "not_moved": NOT_MOVED,
            "notes": self.notes,
        }


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


@contextmanager
def _reading(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection, connection.begin():
        if engine.dialect.name == "postgresql":
            # One snapshot for every query of the export.
            connection.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        yield connection


def _rows(connection: Connection, env: Any) -> dict[str, list[dict[str, Any]]]:
    """Every exported row, numbered afresh, with references by those numbers."""
    numbers: dict[str, dict[Any, int]] = {}
    document: dict[str, list[dict[str, Any]]] = {}
    memberships = t.memberships
    logins = dict(
        connection.execute(
            select(memberships.c.id, t.accounts.c.login)
            .join(t.accounts, t.accounts.c.id == memberships.c.account_id)
            .where(memberships.c.environment_id == env.id)
        ).all()
    )
    accounts = connection.execute(
        select(t.accounts).where(t.accounts.c.login.in_(sorted(set(logins.values()))))
        .order_by(t.accounts.c.login)
    )  # fmt: skip
    document["accounts"] = [
        {k: _plain(v) for k, v in row._mapping.items() if k != "id"} for row in accounts
    ]
    for part in PARTS:
        table = part.table
        query = select(table)
        owner = _owner_column(part)
        if part.under is not None:
            column, parent = part.under
            query = query.where(table.c[column].in_(sorted(numbers[parent])))
        elif owner is not None:
            query = query.where(table.c[owner] == env.id)
        if part.name == "my_files":
            query = query.where(tm.output_files.c.state == "ready")
        if "id" in table.c:
            query = query.order_by(table.c.id)
        found = list(connection.execute(query))
        numbers[part.name] = {}
        rows: list[dict[str, Any]] = []
        for row in found:
            values = dict(row._mapping)
            if part.numbered:
                numbers[part.name][values["id"]] = len(numbers[part.name]) + 1
                values["id"] = numbers[part.name][values["id"]]
            for column, target in part.refs.items():
                if values.get(column) is not None:
                    values[column] = numbers[target][values[column]]
            if part.name == "memberships":
                values["account"] = logins[row.id]
                del values["account_id"]
            if owner is not None:
                del values[owner]
            rows.append({k: _plain(v) for k, v in values.items()})
        if not part.numbered:
            rows.sort(key=lambda r: json.dumps(r, sort_keys=True))
        document[part.name] = rows
    audit = connection.execute(
        select(t.audit_entries).where(t.audit_entries.c.environment == env.code)
        .order_by(t.audit_entries.c.id)
    )  # fmt: skip
    document["audit_entries"] = [
        {k: _plain(v) for k, v in row._mapping.items() if k not in ("id", "environment")}
        for row in audit
    ]
    return document


def _environment_row(connection: Connection, code: str) -> Any:
    env = connection.execute(select(t.environments).where(t.environments.c.code == code)).first()
    if env is None:
        raise BackupRefused(
            f"there is no environment {code} on this host (see `koppel-admin env list`).",
            "unknown_environment",
            missing=True,
        )
    return env


def export_environment(engine: Engine, blobs: BlobStore, code: str, target: Path) -> TransferReport:
    """Write environment ``code`` with its contents into the zip file ``target``
    (written as ``target.partial``, renamed when complete; an existing file is kept)."""
    if target.exists():
        raise BackupRefused(
            f"{target} exists; give a new file name (an export never overwrites a file).",
            "destination_exists",
        )
    with _reading(engine) as connection:
        env = _environment_row(connection, code)
        firm = (
            connection.execute(
                select(t.environments.c.code).where(t.environments.c.id == env.firm_id)
            ).scalar_one()
            if env.firm_id
            else None
        )
        environment = {k: _plain(v) for k, v in env._mapping.items() if k not in ("id", "firm_id")}
        environment["firm"] = firm
        document = {"format": FORMAT, "environment": environment, **_rows(connection, env)}
        wanted = manifest.referenced(connection, env.id)
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    counts = {k: len(v) for k, v in document.items() if isinstance(v, list)}
    partial = target.with_name(target.name + ".partial")
    report = TransferReport(env.code, target, counts, 0, 0)
    try:
        os.close(open_private(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC))
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            header = {
                "format": FORMAT,
                "kind": KIND,
                "environment": env.code,
                "release": __version__,
                "revision": revision,
                "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "source_database": engine.dialect.name,
                "counts": counts,
                "not_moved": NOT_MOVED,
                "restore": f"koppel-admin env restore {target.name}",
            }
            archive.writestr("export.json", json.dumps(header, indent=2) + "\n")
            archive.writestr(
                "environment.json",
                json.dumps(document, indent=1, ensure_ascii=False, sort_keys=True) + "\n",
            )
            copied = [_add_blob(archive, blobs, blob) for blob in wanted]
            archive.writestr(
                manifest.MANIFEST,
                json.dumps({"format": 1, "blobs": [b.as_json() for b in copied]}, indent=1),
            )
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    report.blobs = len(copied)
    report.bytes = sum(b.size for b in copied)
    return report


def _add_blob(archive: zipfile.ZipFile, blobs: BlobStore, blob: Blob) -> Blob:
    info = zipfile.ZipInfo(f"blobs/{blob.key}", date_time=(2000, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED  # documents are compressed already
    info.file_size = blob.size
    try:
        with archive.open(info, "w", force_zip64=blob.size >= 2**31) as out:
            found = manifest.hashed(blobs.read(blob.key), out.write)
    except BlobNotFound as exc:
        raise BackupRefused(
            f"the content {blob.key} that the environment's data names is missing from the "
            "blob store; an export would lose it. Restore it from a backup first.",
            "blob_missing",
        ) from exc
    if blob.sha256 and found.sha256 != blob.sha256:
        raise BackupRefused(
            f"the content {blob.key} differs from the SHA-256 the database recorded "
            "(damaged in the blob store); restore it from a backup first.",
            "blob_damaged",
        )
    return Blob(blob.key, found.size, found.sha256)


# --- restore ------------------------------------------------------------------------------


def _read_json(archive: zipfile.ZipFile, name: str, where: Path) -> Any:
    try:
        return json.loads(archive.read(name))  # KeyError: no such member
    except (KeyError, ValueError) as exc:
        raise BackupRefused(
            f"{where} lacks a readable {name}: not an environment export of Koppel, or damaged.",
            "not_an_export",
        ) from exc


def _value(table: Table, column: str, value: Any) -> Any:
    if value is not None and isinstance(table.c[column].type, UTCDateTime):
        return datetime.fromisoformat(value)
    return value


def _insert(connection: Connection, table: Table, values: dict[str, Any]) -> Any:
    row = {k: _value(table, k, v) for k, v in values.items()}
    key = connection.execute(insert(table).values(**row)).inserted_primary_key
    return key[0] if key else None


def restore_environment(
    engine: Engine, blobs: BlobStore, source: Path, actor: str
) -> TransferReport:
    """Put the environment in ``source`` (an export) on this host: every content
    checked against the manifest while it is stored, then every row in one transaction.
    An environment of that code already here is refused; a refusal leaves nothing."""
    try:
        archive = zipfile.ZipFile(source)
    except FileNotFoundError as exc:
        raise BackupRefused(f"there is no file {source}.", "not_found", missing=True) from exc
    except (zipfile.BadZipFile, OSError) as exc:
        raise BackupRefused(
            f"{source} is not an environment export ({exc}).", "not_an_export"
        ) from exc
    with archive:
        header = _read_json(archive, "export.json", source)
        if header.get("kind") != KIND or header.get("format") != FORMAT:
            raise BackupRefused(
                f"{source} is not an environment export this release reads "
                f"(kind {header.get('kind')!r}, format {header.get('format')!r}).",
                "not_an_export",
            )
        revision = header.get("revision")
        if revision and not migrate.known(str(revision)):
            raise BackupRefused(
                f"{source} was exported by Koppel {header.get('release')}, whose database is "
                f"newer than this release ({__version__}) reads (revision {revision}). "
                "Upgrade this host first (docs/operations.md, Upgrading).",
                "export_too_new",
            )
        document = _read_json(archive, "environment.json", source)
        wanted = manifest.parse(_read_json(archive, manifest.MANIFEST, source), str(source))
        code = str(document["environment"]["code"])
        with engine.connect() as connection:
            taken = connection.execute(
                select(t.environments.c.id).where(t.environments.c.code == code)
            ).first()
        if taken is not None:
            raise BackupRefused(
                f"an environment {code} exists on this host already; a restore never merges "
                "two. Restore onto a host without it (nothing was changed).",
                "environment_exists",
            )
        stored = _store_blobs(archive, blobs, wanted, source)
        try:
            report = _insert_rows(engine, document, actor, source)
        except BaseException:
            for key in stored:
                blobs.delete(key)
            raise
    report.blobs = len(wanted)
    report.bytes = sum(b.size for b in wanted)
    return report


def _store_blobs(
    archive: zipfile.ZipFile, blobs: BlobStore, wanted: list[Blob], source: Path
) -> list[str]:
    """Store every content, each checked against the manifest on the way; the keys
    stored (removed again when anything later is refused)."""
    stored: list[str] = []
    try:
        for blob in wanted:
            if _store_one(archive, blobs, blob, source):
                stored.append(blob.key)
    except BaseException:
        for key in stored:
            blobs.delete(key)
        raise
    return stored


def _store_one(archive: zipfile.ZipFile, blobs: BlobStore, blob: Blob, source: Path) -> bool:
    """Store one content under its key (checked first; kept in the partial area until
    it checks out). False when the store holds that very content already."""
    try:
        member = archive.open(f"blobs/{blob.key}")
    except KeyError as exc:
        raise BackupRefused(
            f"{source} lacks the content {blob.key} its manifest lists: the file is "
            "incomplete. Nothing was restored.",
            "export_damaged",
        ) from exc
    try:
        blobs.size(blob.key)
        present = True
    except BlobNotFound:
        present = False
    partial = f"env-restore-{uuid.uuid4().hex}"
    digest = hashlib.sha256()

    def checked() -> Iterator[bytes]:
        while piece := member.read(1024 * 1024):
            digest.update(piece)
            yield piece

    with member:
        try:
            pieces = checked()
            size = manifest.hashed(pieces).size if present else blobs.append(partial, pieces)
        except (zipfile.BadZipFile, OSError) as exc:
            blobs.discard_partial(partial)
            raise BackupRefused(
                f"the content {blob.key} in {source} cannot be read ({exc}): the file is "
                "damaged. Nothing was restored.",
                "export_damaged",
            ) from exc
    if (size, digest.hexdigest()) != (blob.size, blob.sha256):
        blobs.discard_partial(partial)
        raise BackupRefused(
            f"the content {blob.key} in {source} differs from its manifest entry: the file "
            "was altered or damaged. Nothing was restored.",
            "export_damaged",
        )
    if present:
        held = manifest.hashed(blobs.read(blob.key))
        if (held.size, held.sha256) != (blob.size, blob.sha256):
            raise BackupRefused(
                f"this host's blob store holds another content under the key {blob.key}; "
                "nothing was restored.",
                "blob_conflict",
            )
        return False  # the very content is here already
    blobs.commit(partial, blob.key)
    return True


def _insert_rows(
    engine: Engine, document: dict[str, Any], actor: str, source: Path
) -> TransferReport:
    environment = dict(document["environment"])
    code = environment["code"]
    notes: list[str] = []
    with engine.begin() as connection:
        firm_code = environment.pop("firm", None)
        firm_id = None
        if firm_code:
            firm_id = connection.execute(
                select(t.environments.c.id).where(t.environments.c.code == firm_code)
            ).scalar()
            if firm_id is None:
                notes.append(
                    f"its managing firm {firm_code} is not on this host: once it is, run "
                    f"koppel-admin env set-firm {code} {firm_code}"
                )
        env_id = _insert(connection, t.environments, {**environment, "firm_id": firm_id})
        account_ids: dict[str, int] = {}
        for account in document["accounts"]:
            found = connection.execute(
                select(t.accounts.c.id).where(t.accounts.c.login == account["login"])
            ).scalar()
            if found is None:
                found = _insert(connection, t.accounts, account)
            else:
                notes.append(
                    f"the account {account['login']} exists on this host: it keeps its own "
                    "password and name"
                )
            account_ids[account["login"]] = found
        numbers: dict[str, dict[int, int]] = {}
        for part in PARTS:
            numbers[part.name] = {}
            owner = _owner_column(part)
            for row in document.get(part.name, []):
                values = dict(row)
                number = values.pop("id", None) if part.numbered else None
                for column, target in part.refs.items():
                    if values.get(column) is not None:
                        values[column] = numbers[target][values[column]]
                if part.name == "memberships":
                    values["account_id"] = account_ids[values.pop("account")]
                if owner is not None:
                    values[owner] = env_id
                new_id = _insert(connection, part.table, values)
                if number is not None:
                    numbers[part.name][number] = new_id
        for entry in document.get("audit_entries", []):
            _insert(connection, t.audit_entries, {**entry, "environment": code})
        _insert(
            connection,
            t.audit_entries,
            {
                "at": datetime.now(UTC).isoformat(),
                "actor": actor,
                "action": "environment.restore",
                "environment": code,
                "detail": {"file": source.name},
            },
        )
    counts = {k: len(v) for k, v in document.items() if isinstance(v, list)}
    return TransferReport(code, source, counts, 0, 0, notes)


def record_export(engine: Engine, code: str, target: Path, actor: str) -> None:
    """An audit entry on the source: the environment's data left the host in a file."""
    with engine.begin() as connection:
        _insert(
            connection,
            t.audit_entries,
            {
                "at": datetime.now(UTC).isoformat(),
                "actor": actor,
                "action": "environment.export",
                "environment": code,
                "detail": {"file": str(target)},
            },
        )


__all__ = [
    "NOT_MOVED",
    "TransferReport",
    "export_environment",
    "record_export",
    "restore_environment",
]
