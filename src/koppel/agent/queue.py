"""The offline queue of submissions: one JSON file per submission in ``<data>/queue``.

A submission is written here *before* any byte is sent, and rewritten (atomically) as
its uploads are created and finished, so a killed or offline agent resumes the very same
uploads later and never creates a second item: the item is created with the submission's
id, which the server treats idempotently. Progress is checkpointed at most once a second
(rewriting a 200-file submission after each file cost a fifth of its time), except
before the first byte of a file worth resuming; a small file whose checkpoint a crash
lost is simply sent again, and its first upload expires on the server.

Senders take a per-submission lock file (POSIX ``flock``, released by the kernel when a
process dies), so ``koppel watch`` and ``koppel submit`` never send the same submission
at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from koppel.agent.atomic import atomic_write_bytes
from koppel.agent.errors import AgentError, ApiError, ServerUnreachable
from koppel.agent.paths import data_dir
from koppel.agent.state import now_iso
from koppel.protocol.sizes import byte_count

FORMAT = 1
PENDING, FAILED = "pending", "failed"
CHECKPOINT_SECONDS = 1.0
# A file at least this large has its upload URL saved before any byte is sent, so that a
# restart continues its upload instead of sending it again.
RESUMABLE_BYTES = 1024 * 1024


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
            f"No queued submission {ident!r}."
            if not matches
            else f"{ident!r} is ambiguous. See `koppel queue` for the ids."
        )
    return matches[0]


@contextlib.contextmanager
def claimed(submission_id: str) -> Iterator[bool]:
    """Hold the submission's lock; yields False when another process is sending it."""
    if os.name != "posix":  # pragma: no cover - Windows: one sender at a time by habit
        yield True
        return
    import fcntl

    folder().mkdir(parents=True, exist_ok=True, mode=0o700)
    with (folder() / f"{submission_id}.lock").open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def forget(submission: Submission) -> None:
    """Remove a submission's queue and lock files."""
    submission.path.unlink(missing_ok=True)
    (folder() / f"{submission.id}.lock").unlink(missing_ok=True)


class _Checkpoints:
    """Saves a submission's progress when asked to at once, else at most once a second."""

    def __init__(self, submission: Submission) -> None:
        self._submission = submission
        self._saved = time.monotonic()

    def save(self, *, now: bool = False) -> None:
        if now or time.monotonic() - self._saved >= CHECKPOINT_SECONDS:
            self._submission.save()
            self._saved = time.monotonic()


@dataclass
class SendResult:
    """What became of one submission."""

    id: str
    environment: str
    state: str  # sent, queued, failed, busy
    message: str = ""
    item: dict[str, Any] | None = None
    code: str | None = None

    def as_json(self) -> dict[str, Any]:
        """For ``--json``."""
        return asdict(self)


def _fail(submission: Submission, exc: AgentError) -> SendResult:
    submission.state = FAILED
    submission.error = {"code": exc.code, "message": exc.message}
    submission.save()
    return SendResult(submission.id, submission.environment, FAILED, exc.message, code=exc.code)


def send(submission: Submission, *, progress: bool = True) -> SendResult:
    """Upload what is missing and create the item; the queue file goes once it exists.

    An unreachable server leaves the submission queued; a refusal marks it failed (with
    the server's reason) so that ``koppel queue`` shows it.
    """
    with claimed(submission.id) as mine:
        if not mine:
            return SendResult(
                submission.id, submission.environment, "busy", "Another agent is sending it."
            )
        try:
            return _send(submission, progress)
        except ServerUnreachable as exc:
            submission.save()  # keep the progress made before the server went away
            return SendResult(
                submission.id, submission.environment, "queued", exc.message, code=exc.code
            )
        except AgentError as exc:
            return _fail(submission, exc)


def _send(submission: Submission, progress: bool) -> SendResult:
    from koppel.agent import tus
    from koppel.agent.client import AgentClient, env_path
    from koppel.agent.environment import explain, find, token_of

    state, env = find(submission.environment)
    token = token_of(state, env)
    checkpoints = _Checkpoints(submission)
    with AgentClient(env.api_url) as client:
        try:
            _check_types(client, env.code, token, submission)
            for queued in submission.files:
                if queued.state == "uploaded":
                    continue
                path = Path(queued.path)
                try:
                    size = path.stat().st_size
                except OSError as exc:
                    raise AgentError(f"{queued.path} can no longer be read ({exc}).") from exc
                if size != queued.size:
                    raise AgentError(
                        f"{queued.path} changed since it was queued ({byte_count(queued.size)}, "
                        f"now {size:,}); cancel this submission and submit the file again."
                    )

                def remember(url: str, queued: QueuedFile = queued) -> None:
                    queued.upload_url = url
                    queued.state = "uploading"
                    # Before any byte of a large file: a restart resumes this upload.
                    checkpoints.save(now=queued.size >= RESUMABLE_BYTES)

                queued.upload_id = tus.upload_file(
                    client,
                    env.code,
                    token,
                    path,
                    metadata={"filename": queued.name, "submission": submission.id},
                    resume_url=queued.upload_url,
                    on_created=remember,
                    progress=progress,
                )
                queued.state = "uploaded"
                checkpoints.save()
            from datetime import datetime

            from koppel.protocol.dossier import CreateItemRequest, ItemOut

            request = CreateItemRequest(
                submission_id=submission.id,
                subject=submission.subject,
                type=submission.type,
                destination=submission.destination,
                uploads=[f.upload_id for f in submission.files if f.upload_id],
                date=datetime.fromisoformat(submission.date) if submission.date else None,
            )
            submission.item_requested = True
            submission.save()
            response = client.request(
                "POST",
                env_path(env.code, "items"),
                token=token,
                json=request.model_dump(mode="json"),
            )
        except ApiError as exc:
            raise explain(env.code, exc) from exc
    item = ItemOut.model_validate_json(response.content)
    forget(submission)
    return SendResult(
        submission.id,
        submission.environment,
        "sent",
        f"Item {item.id} created in {env.code}"
        + (" (it already existed: sent before)." if response.status_code == 200 else "."),
        item=item.model_dump(mode="json"),
    )


def _check_types(client: Any, environment: str, token: str, submission: Submission) -> None:
    """Refuse the whole submission before any byte when a file not sent yet is of a type
    the environment does not accept (it may have been queued offline, or the list may
    have changed since): it ends failed with the reason, never retried on its own."""
    from koppel.agent.submit import check_types, upload_rules

    waiting = [Path(f.name) for f in submission.files if f.state != "uploaded"]
    if waiting:
        check_types(waiting, environment, upload_rules(client, environment, token).extensions)


def _reachable(api_url: str) -> bool:
    from koppel.agent.client import AgentClient

    try:
        with AgentClient(api_url) as client:
            client.info()
    except ServerUnreachable:
        return False
    except AgentError:
        return True
    return True


def send_pending(
    *, include_failed: bool = False, progress: bool = True, exclude: str | None = None
) -> list[SendResult]:
    """Send queued submissions, oldest first (``koppel queue send``, ``koppel watch``).

    Servers are probed once each: the submissions of an unreachable one stay queued
    without waiting for retries. ``include_failed`` also retries refused ones.
    """
    from koppel.agent import state as state_mod

    environments = state_mod.read().state.environments
    reachable: dict[str, bool] = {}
    results: list[SendResult] = []
    for submission in load_all():
        if submission.id == exclude:
            continue
        if submission.state == FAILED and not include_failed:
            continue
        env = environments.get(submission.environment)
        if env is None:
            results.append(
                _fail(
                    submission,
                    AgentError(f"{submission.environment} is no longer linked here."),
                )
            )
            continue
        if env.api_url not in reachable:
            reachable[env.api_url] = _reachable(env.api_url)
        if not reachable[env.api_url]:
            results.append(
                SendResult(
                    submission.id,
                    submission.environment,
                    "queued",
                    f"The server of {submission.environment} is unreachable.",
                    code="unreachable",
                )
            )
            continue
        submission.state = PENDING
        result = send(submission, progress=progress)
        if result.state == "queued":
            reachable[env.api_url] = False
        results.append(result)
    return results


def cancel(ident: str) -> tuple[Submission, bool]:
    """Forget a submission, deleting its unfinished uploads on the server when reachable.

    Returns the submission and whether the server was told (False when unreachable).
    """
    from koppel.agent import tus
    from koppel.agent.client import AgentClient
    from koppel.agent.environment import find as find_env
    from koppel.agent.environment import token_of

    submission = find(ident)
    with claimed(submission.id) as mine:
        if not mine:
            raise AgentError(
                f"Submission {submission.id} is being sent right now; try again when it is done."
            )
        told = True
        urls = [f.upload_url for f in submission.files if f.upload_url]
        if urls:
            try:
                state, env = find_env(submission.environment)
                token = token_of(state, env)
                with AgentClient(env.api_url) as client:
                    for url in urls:
                        tus.terminate(client, token, url)
            except ServerUnreachable:
                told = False
            except AgentError:
                told = False
        forget(submission)
    return submission, told
