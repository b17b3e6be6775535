"""The offline queue of submissions: one JSON file per submission in ``<data>/queue``.

A submission is written here *before* any byte is sent, and rewritten (atomically) as
its uploads are created and finished, so a killed or offline agent resumes the very same
uploads later and never creates a second item: the item is created with the submission's
id, which the server treats idempotently. Progress is checkpointed at most once a second
(rewriting a 200-file submission after each file cost a fifth of its time), except
before the first byte of a file worth resuming; a small file whose checkpoint a crash
lost is simply sent again, and its first upload expires on the server. Files are sent
several at once, but one thread records their progress and writes this file
(:mod:`koppel.agent.upload_batch`).

Senders take a per-submission lock file (``flock`` on POSIX, ``msvcrt`` locking on
Windows, through :mod:`koppel.agent.local.locks`; the OS releases it when a process
dies), so ``koppel agent run``, ``koppel watch`` and ``koppel submit`` never send the
same submission at once.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from koppel.agent.errors import AgentError
from koppel.agent.local import locks
from koppel.agent.local.atomic import atomic_write_bytes
from koppel.agent.local.paths import data_dir
from koppel.agent.local.state import now_iso
from koppel.i18n import gettext as _

FORMAT = 1
PENDING, FAILED = "pending", "failed"


def folder() -> Path:
    """Where queued submissions are kept."""
    return data_dir() / "queue"


@dataclass
class QueuedFile:
    """One file of a submission and how far its upload got."""

    path: str
    name: str
    size: int
    upload_url: str | None = None
    upload_id: str | None = None
    state: str = "waiting"  # waiting, uploading, uploaded

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QueuedFile:
        """Build from the queue file, ignoring unknown keys."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass
class Submission:
    """Files to become one item, with what the item is to be."""

    id: str
    environment: str
    destination: str
    type: str
    subject: str
    files: list[QueuedFile]
    date: str | None = None
    created: str = field(default_factory=now_iso)
    state: str = PENDING
    error: dict[str, str] | None = None
    item_requested: bool = False

    @classmethod
    def new(
        cls,
        environment: str,
        destination: str,
        type_name: str,
        subject: str,
        paths: list[Path],
        date: str | None = None,
    ) -> Submission:
        """A new submission with a fresh id (uuid4)."""
        files = [QueuedFile(str(p.resolve()), p.name, p.stat().st_size) for p in paths]
        return cls(uuid.uuid4().hex, environment, destination, type_name, subject, files, date)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Submission:
        """Build from the queue file."""
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data and k != "files"}
        files = [QueuedFile.from_json(f) for f in data.get("files") or []]
        return cls(files=files, **known)

    def to_json(self) -> dict[str, Any]:
        """The queue file's content."""
        return {"format": FORMAT, **asdict(self)}

    @property
    def path(self) -> Path:
        """The submission's queue file."""
        return folder() / f"{self.id}.json"

    def save(self) -> None:
        """Write the queue file atomically (a crash leaves the old or the new one)."""
        folder().mkdir(parents=True, exist_ok=True, mode=0o700)
        data = json.dumps(self.to_json(), indent=2, ensure_ascii=False).encode("utf-8")
        atomic_write_bytes(self.path, data)

    def summary(self) -> dict[str, Any]:
        """What ``koppel queue --json`` shows."""
        data = self.to_json()
        data.pop("format")
        data["uploaded"] = sum(1 for f in self.files if f.state == "uploaded")
        return data


def load_all() -> list[Submission]:
    """Every queued submission, oldest first (unreadable files are skipped)."""
    found: list[Submission] = []
    if not folder().is_dir():
        return found
    for path in folder().glob("*.json"):
        try:
            found.append(Submission.from_json(json.loads(path.read_text("utf-8"))))
        except (OSError, ValueError, TypeError):
            continue
    return sorted(found, key=lambda s: (s.created, s.id))


def find(ident: str) -> Submission:
    """The submission with id ``ident`` (or a unique prefix of it)."""
    matches = [s for s in load_all() if s.id == ident or s.id.startswith(ident)]
    if len(matches) != 1:
        raise AgentError(
            _("No queued submission {id}.").format(id=repr(ident))
            if not matches
            else _("{id} is ambiguous. See `koppel queue` for the ids.").format(id=repr(ident))
        )
    return matches[0]


@contextlib.contextmanager
def claimed(submission_id: str) -> Iterator[bool]:
    """Hold the submission's lock; yields False when another process is sending it."""
    with locks.attempt(folder() / f"{submission_id}.lock") as mine:
        yield mine


def forget(submission: Submission) -> None:
    """Remove a submission's queue and lock files."""
    submission.path.unlink(missing_ok=True)
    # Windows refuses to remove a lock file that is held (the sender holds it here); the
    # lock removes it itself when released there.
    with contextlib.suppress(PermissionError):
        (folder() / f"{submission.id}.lock").unlink(missing_ok=True)
