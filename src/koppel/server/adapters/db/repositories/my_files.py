"""My files (output files and deliveries) on SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Row

from koppel.server.adapters.db.tables import my_files as t
from koppel.server.domain.my_files import OutputFile, State

_CHUNK = 900


def _file(row: Row[Any]) -> OutputFile:
    return OutputFile(
        environment_id=row.environment_id,
        membership_id=row.membership_id,
        name=row.name,
        media_type=row.media_type,
        state=row.state,
        source=row.source,
        created_at=row.created_at,
        size=row.size,
        sha256=row.sha256,
        blob_key=row.blob_key,
        error=row.error,
        ready_at=row.ready_at,
        id=row.id,
    )


def _values(file: OutputFile) -> dict[str, Any]:
    return {
        "environment_id": file.environment_id,
        "membership_id": file.membership_id,
        "name": file.name,
        "media_type": file.media_type,
        "state": file.state,
        "source": file.source,
        "created_at": file.created_at,
        "size": file.size,
        "sha256": file.sha256,
        "blob_key": file.blob_key,
        "error": file.error,
        "ready_at": file.ready_at,
    }


class SqlMyFilesRepository:
    """The domain's MyFilesRepository within one connection's transaction."""

    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def add(self, file: OutputFile) -> OutputFile:
        """Store a new output file; it comes back with its id."""
        result = self.c.execute(insert(t.output_files).values(**_values(file)))
        file.id = int(result.inserted_primary_key[0])  # type: ignore[index]
        return file

    def save(self, file: OutputFile) -> None:
        """Store the changed state of an output file."""
        self.c.execute(
            update(t.output_files).where(t.output_files.c.id == file.id).values(**_values(file))
        )

    def get(self, file_id: int) -> OutputFile | None:
        """An output file by id."""
        row = self.c.execute(select(t.output_files).where(t.output_files.c.id == file_id)).first()
        return _file(row) if row else None

    def of_memberships(
        self, membership_ids: Sequence[int], state: State | None = None
    ) -> list[OutputFile]:
        """The files of these users (newest first), optionally in one state."""
        found: list[OutputFile] = []
        ids = list(membership_ids)
        for start in range(0, len(ids), _CHUNK):
            query = select(t.output_files).where(
                t.output_files.c.membership_id.in_(ids[start : start + _CHUNK])
            )
            if state is not None:
                query = query.where(t.output_files.c.state == state)
            found.extend(_file(row) for row in self.c.execute(query))
        return sorted(found, key=lambda f: f.id, reverse=True)

    def delivered(self, file_ids: Sequence[int], workstation_id: str) -> set[int]:
        """Which of these files were delivered to the workstation."""
        done: set[int] = set()
        ids = list(file_ids)
        d = t.output_deliveries
        for start in range(0, len(ids), _CHUNK):
            query = select(d.c.output_file_id).where(
                d.c.workstation_id == workstation_id,
                d.c.output_file_id.in_(ids[start : start + _CHUNK]),
            )
            done.update(int(v) for v in self.c.execute(query).scalars())
        return done

    def mark_delivered(self, file_id: int, workstation_id: str, at: datetime) -> bool:
        """Record a delivery; False when it was already recorded."""
        if self.delivered([file_id], workstation_id):
            return False
        self.c.execute(
            insert(t.output_deliveries).values(
                output_file_id=file_id, workstation_id=workstation_id, delivered_at=at
            )
        )
        return True
