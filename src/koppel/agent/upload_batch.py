"""A submission's files uploaded several at once, checkpointed by one thread.

Worker threads (``--transfers``, default 4) share one :class:`AgentClient`: one httpx
pool per server, its connections kept alive between files (httpx keeps 20 alive, more
than :data:`~koppel.agent.transfers.MAX_TRANSFERS`). Workers never touch the
submission: they tell the coordinator (the caller's thread) what happened through one
inbox, and the coordinator alone records it in the submission, saves the queue file
(at most once a second, and at once before the first byte of a file worth resuming)
and reports progress. So a saved queue file is always one consistent moment: a file
marked uploaded has its upload id; one whose end a crash lost is sent again, and its
first upload expires on the server.

The first failure (a refusal, an unreachable server, a file that changed) stops the
other workers between two chunks or files, and is raised once they have stopped;
Ctrl+C likewise, after the progress so far is saved.
"""

from __future__ import annotations

import queue as inbox_queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from koppel.agent.api import AgentClient
from koppel.agent.batch_bar import BatchBar
from koppel.agent.errors import AgentError, SendingInterrupted
from koppel.agent.local.queue import Submission
from koppel.agent.output import transfer_bars_wanted
from koppel.i18n import gettext as _
from koppel.protocol.sizes import byte_count

CHECKPOINT_SECONDS = 1.0
# A file at least this large has its upload URL saved before any byte is sent, so that a
# restart continues its upload instead of sending it again.
RESUMABLE_BYTES = 1024 * 1024
# How often the coordinator wakes without news: to checkpoint, redraw, and let Ctrl+C in.
_TICK_SECONDS = 0.1
# After Ctrl+C, how long the workers may take to finish what they are sending.
_STOP_PATIENCE_SECONDS = 5.0

# (index of the file in the submission, bytes on the server, its size): a window's bars.
FileProgress = Callable[[int, int, int], None]


class _Stopped(Exception):
    """Raised in a worker, between two chunks, when the batch is stopping."""


@dataclass
class _Created:
    index: int
    url: str
    saved: threading.Event | None  # set once the queue file holds the URL


@dataclass
class _Uploaded:
    index: int
    upload_id: str


@dataclass
class _Moved:
    index: int
    done: int
    size: int


@dataclass
class _Failed:
    error: BaseException


class _WorkerDone:
    """A worker has ended (its last message)."""


_Message = _Created | _Uploaded | _Moved | _Failed | _WorkerDone


class UploadBatch:
    """Uploads the files of ``submission`` not on the server yet (see the module)."""

    def __init__(
        self,
        client: AgentClient,
        environment: str,
        token: str,
        submission: Submission,
        *,
        transfers: int,
        progress: bool,
        on_progress: FileProgress | None,
    ) -> None:
        self._client = client
        self._environment = environment
        self._token = token
        self._submission = submission
        self._transfers = transfers
        self._progress = progress
        self._on_progress = on_progress
        self._inbox: inbox_queue.SimpleQueue[_Message] = inbox_queue.SimpleQueue()
        self._stop = threading.Event()
        self._next_lock = threading.Lock()
        self._waiting: list[int] = []
        self._saved_at = time.monotonic()
        self._dirty = False
        self._bytes = [f.size if f.state == "uploaded" else 0 for f in submission.files]
        self._files_done = sum(f.state == "uploaded" for f in submission.files)
        # With one file left, the uploader's own bar (name, bytes) is the better one.
        self._one_bar = False

    # -- the coordinator ------------------------------------------------------------------

    def run(self) -> None:
        """Upload what is missing; raise the first failure once every worker stopped.

        On success the caller saves the submission (it records the item request next).
        """
        files = self._submission.files
        self._waiting = [i for i, f in enumerate(files) if f.state != "uploaded"]
        for index, queued in enumerate(files):
            if queued.state == "uploaded":
                self._tell(index, queued.size, queued.size)
        if not self._waiting:
            return
        self._one_bar = len(self._waiting) == 1
        self._waiting.reverse()  # popped from the end: the submitted order
        workers = [
            threading.Thread(target=self._work, name=f"upload-{n}", daemon=True)
            for n in range(min(self._transfers, len(self._waiting)))
        ]
        show = transfer_bars_wanted(self._progress) and not self._one_bar
        total = sum(f.size for f in files)
        with BatchBar(len(files), total, show=show) as bar:
            for worker in workers:
                worker.start()
            try:
                failure = self._follow(len(workers), bar)
            except BaseException as exc:  # Ctrl+C (or a bug here): stop, keep the progress
                self._stop.set()
                self._follow(len(workers), bar, patience=_STOP_PATIENCE_SECONDS)
                self._submission.save()
                if isinstance(exc, KeyboardInterrupt):
                    raise SendingInterrupted(self._files_done, len(files)) from exc
                raise
        if failure is not None:
            self._submission.save()
            raise failure

    def _follow(
        self, running: int, bar: BatchBar, patience: float | None = None
    ) -> BaseException | None:
        """Take the workers' news until they have all ended (or ``patience`` is spent)."""
        failure: BaseException | None = None
        deadline = None if patience is None else time.monotonic() + patience
        while running:
            if deadline is not None and time.monotonic() > deadline:
                break
            try:
                news = [self._inbox.get(timeout=_TICK_SECONDS)]
            except inbox_queue.Empty:
                news = []
            while not self._inbox.empty():  # all there is, then one checkpoint and redraw
                news.append(self._inbox.get())
            for message in news:
                if isinstance(message, _WorkerDone):
                    running -= 1
                elif isinstance(message, _Failed):
                    if failure is None:
                        failure = message.error
                    self._stop.set()
                else:
                    self._apply(message)
            if self._dirty and time.monotonic() - self._saved_at >= CHECKPOINT_SECONDS:
                self._save()
            bar.update(self._files_done, sum(self._bytes))
        return failure

    def _apply(self, message: _Created | _Uploaded | _Moved) -> None:
        if isinstance(message, _Moved):
            self._bytes[message.index] = message.done
            self._tell(message.index, message.done, message.size)
            return
        queued = self._submission.files[message.index]
        if isinstance(message, _Created):
            queued.upload_url = message.url
            queued.state = "uploading"
            self._dirty = True
            if message.saved is not None:  # before any byte of a large file
                self._save()
                message.saved.set()
        else:
            queued.upload_id = message.upload_id
            queued.state = "uploaded"
            self._files_done += 1
            self._bytes[message.index] = queued.size
            self._dirty = True

    def _save(self) -> None:
        self._submission.save()
        self._saved_at = time.monotonic()
        self._dirty = False

    def _tell(self, index: int, done: int, size: int) -> None:
        if self._on_progress is not None:
            self._on_progress(index, done, size)

    # -- the workers ------------------------------------------------------------------------

    def _take(self) -> int | None:
        with self._next_lock:
            return self._waiting.pop() if self._waiting else None

    def _work(self) -> None:
        try:
            while not self._stop.is_set():
                index = self._take()
                if index is None:
                    break
                upload_id = self._upload(index)
                self._inbox.put(_Uploaded(index, upload_id))
        except _Stopped:
            pass
        except BaseException as exc:  # every failure ends the batch, in the coordinator
            self._inbox.put(_Failed(exc))
        finally:
            self._inbox.put(_WorkerDone())

    def _upload(self, index: int) -> str:
        queued = self._submission.files[index]
        # Read once here: the coordinator changes these only from this worker's news.
        path, size, resume_url = Path(queued.path), queued.size, queued.upload_url
        try:
            found = path.stat().st_size
        except OSError as exc:
            raise AgentError(
                _("{path} can no longer be read ({reason}).").format(path=queued.path, reason=exc)
            ) from exc
        if found != size:
            raise AgentError(
                _(
                    "{path} changed since it was queued ({before}, now {after}); cancel this "
                    "submission and submit the file again."
                ).format(path=queued.path, before=byte_count(size), after=byte_count(found))
            )

        def created(url: str) -> None:
            if size < RESUMABLE_BYTES:
                self._inbox.put(_Created(index, url, None))
                return
            saved = threading.Event()
            self._inbox.put(_Created(index, url, saved))
            while not saved.wait(_TICK_SECONDS):
                if self._stop.is_set():
                    raise _Stopped

        def moved(done: int, total: int) -> None:
            if self._stop.is_set() and done < total:  # a finished file is kept
                raise _Stopped
            self._inbox.put(_Moved(index, done, total))

        return self._client.upload(
            self._environment,
            self._token,
            path,
            metadata={"filename": queued.name, "submission": self._submission.id},
            resume_url=resume_url,
            on_created=created,
            progress=self._progress and self._one_bar,
            on_progress=moved,
        )
