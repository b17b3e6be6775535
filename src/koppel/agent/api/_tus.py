"""The tus 1.0 uploader of :class:`~koppel.agent.api.AgentClient`: create, send in
checksummed chunks, resume, retry.

Chunks are streamed from the file (never the whole file in memory); each carries an
``Upload-Checksum`` (sha256) so a damaged chunk is refused and sent again. An upload is
resumed from its URL with HEAD (the server's offset is the truth). Connection failures and
a restarting server are retried with backoff for ``KOPPEL_UPLOAD_RETRY_SECONDS`` (default
60) before :class:`~koppel.agent.errors.ServerUnreachable` is raised.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

from koppel.agent.api._http import Http, env_path
from koppel.agent.errors import AgentError, ApiError, ServerUnreachable
from koppel.agent.output import transfer_bars, transfer_bars_wanted
from koppel.i18n import gettext as _
from koppel.protocol.sizes import byte_count
from koppel.protocol.wire import SHA256_HEADER

TUS_VERSION = "1.0.0"
OFFSET_STREAM = "application/offset+octet-stream"
CHUNK_ENV = "KOPPEL_UPLOAD_CHUNK_BYTES"
RETRY_ENV = "KOPPEL_UPLOAD_RETRY_SECONDS"
DEFAULT_CHUNK_BYTES = 32 * 1024 * 1024
CREATION_WITH_UPLOAD = "creation-with-upload"
# A file up to this size (and up to the PATCH size) goes with its creation request when
# the server offers creation-with-upload: one request per file. Its URL is only known
# once its bytes are sent, so this stays within the files the agent does not resume
# (below upload_batch.RESUMABLE_BYTES, whose URL is saved before the first byte).
ONE_REQUEST_BYTES = 1024 * 1024
# "chunk" adds tus Upload-Checksum to every PATCH (the server spools and verifies each
# one); the default verifies the whole file once, against the sha256 the server answers
# with the last PATCH, in the same read pass that sends it.
CHECKSUM_ENV = "KOPPEL_UPLOAD_CHECKSUM"
DEFAULT_RETRY_SECONDS = 60.0
_READ_BYTES = 256 * 1024
# Refusals that mean "the upload is gone": start a new one instead of resuming.
_GONE = frozenset({"not_found", "upload_expired"})
T = TypeVar("T")


def chunk_bytes() -> int:
    """The PATCH size: ``KOPPEL_UPLOAD_CHUNK_BYTES`` (tests use small ones) or 4 MiB."""
    try:
        value = int(os.environ.get(CHUNK_ENV, "") or DEFAULT_CHUNK_BYTES)
    except ValueError:
        value = DEFAULT_CHUNK_BYTES
    return max(1024, value)


def retry_seconds() -> float:
    """How long to keep retrying an unreachable or restarting server."""
    try:
        return max(0.0, float(os.environ.get(RETRY_ENV, "") or DEFAULT_RETRY_SECONDS))
    except ValueError:
        return DEFAULT_RETRY_SECONDS


def uploads_url(environment: str) -> str:
    """The creation URL (relative to the server) of an environment's uploads."""
    return env_path(environment, "uploads")


def upload_id_of(url: str) -> str:
    """The upload id: the last path segment of the upload URL."""
    return url.rstrip("/").rsplit("/", 1)[-1]


def _tus(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"Tus-Resumable": TUS_VERSION, **(extra or {})}


@dataclass(frozen=True)
class Capabilities:
    """What a server's tus endpoint offers (its answer to OPTIONS)."""

    max_size: int | None  # Tus-Max-Size, in bytes
    extensions: frozenset[str]  # Tus-Extension

    @property
    def creation_with_upload(self) -> bool:
        """Whether a creation request may carry the file's bytes (one request per file)."""
        return CREATION_WITH_UPLOAD in self.extensions


def capabilities(http: Http, environment: str, token: str) -> Capabilities:
    """OPTIONS uploads: the server's size limit and tus extensions."""
    response = http.send("OPTIONS", uploads_url(environment), token=token, headers=_tus())
    value = response.headers.get("Tus-Max-Size")
    named = response.headers.get("Tus-Extension", "")
    return Capabilities(
        int(value) if value and value.isdigit() else None,
        frozenset(name.strip() for name in named.split(",") if name.strip()),
    )


class CapabilityCache:
    """One OPTIONS per server for the life of a client, safe to share between threads
    (several files in flight ask at once; only one asks the server)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: Capabilities | None = None

    def get(self, http: Http, environment: str, token: str) -> Capabilities:
        """The server's capabilities, asked the first time only."""
        with self._lock:
            if self._known is None:
                # The answer is the server's, not the environment's: any one will do.
                self._known = capabilities(http, environment, token)
            return self._known


def encode_metadata(metadata: dict[str, str]) -> str:
    """``Upload-Metadata``: comma-separated ``key base64(value)`` pairs."""
    return ",".join(
        f"{key} {base64.b64encode(value.encode('utf-8')).decode('ascii')}"
        for key, value in metadata.items()
    )


class _Retry:
    """Backoff for transient failures within a time budget; reset by any progress."""

    def __init__(self) -> None:
        self.budget = retry_seconds()
        self.reset()

    def reset(self) -> None:
        self.started = time.monotonic()
        self.delay = 0.5

    def wait_or_raise(self, exc: AgentError) -> None:
        if time.monotonic() - self.started + self.delay > self.budget:
            raise exc
        time.sleep(self.delay)
        self.delay = min(self.delay * 2, 8.0)


def _transient(exc: AgentError) -> bool:
    if isinstance(exc, ServerUnreachable):
        return True
    # 5xx: the server is failing or restarting (a proxy answering 502/503).
    return isinstance(exc, ApiError) and exc.status >= 500


def _with_retry(retry: _Retry, action: Callable[[], T]) -> T:
    while True:
        try:
            return action()
        except AgentError as exc:
            if not _transient(exc):
                raise
            retry.wait_or_raise(exc)


def _offset(http: Http, token: str, url: str, size: int) -> int:
    response = http.send("HEAD", url, token=token, headers=_tus())
    length = response.headers.get("Upload-Length")
    if length is not None and length.isdigit() and int(length) != size:
        raise AgentError(
            _(
                "The upload at {url} is for {expected} but the file now has {size}; the file "
                "changed since it was queued."
            ).format(url=url, expected=byte_count(int(length)), size=f"{size:,}")
        )
    return int(response.headers.get("Upload-Offset", "0"))


def _create(http: Http, environment: str, token: str, size: int, metadata: dict[str, str]) -> str:
    response = http.send(
        "POST",
        uploads_url(environment),
        token=token,
        headers=_tus({"Upload-Length": str(size), "Upload-Metadata": encode_metadata(metadata)}),
    )
    return _location(http, response.headers.get("Location"))


def _location(http: Http, location: str | None) -> str:
    if not location:
        raise AgentError(_("The server created the upload without telling where (no Location)."))
    if location.startswith("/"):
        location = http.base_url + location
    return location


def _create_with_upload(
    http: Http, environment: str, token: str, path: Path, size: int, metadata: dict[str, str]
) -> tuple[str, int, str | None, _WholeFile]:
    """tus creation-with-upload: create the upload with the whole (small) file as body;
    the URL, the offset the server kept, its sha256 when complete, the bytes' digest."""
    whole = _WholeFile(path, 0)
    body = b"".join(whole.passing(_read_range(path, 0, size), 0))
    headers = {
        "Upload-Length": str(size),
        "Upload-Metadata": encode_metadata(metadata),
        "Content-Type": OFFSET_STREAM,
    }
    if os.environ.get(CHECKSUM_ENV, "").lower() == "chunk":
        headers["Upload-Checksum"] = "sha256 " + base64.b64encode(whole.digest.digest()).decode()
    response = http.send(
        "POST", uploads_url(environment), token=token, headers=_tus(headers), content=body
    )
    location = _location(http, response.headers.get("Location"))
    offset = response.headers.get("Upload-Offset", "0")
    kept = int(offset) if offset.isdigit() else 0
    return location, kept, response.headers.get(SHA256_HEADER), whole


def _read_range(path: Path, start: int, length: int) -> Iterator[bytes]:
    with path.open("rb") as handle:
        handle.seek(start)
        remaining = length
        while remaining > 0:
            piece = handle.read(min(_READ_BYTES, remaining))
            if not piece:
                raise AgentError(
                    _("{path} became shorter while it was being sent.").format(path=path)
                )
            remaining -= len(piece)
            yield piece


class _WholeFile:
    """The sha256 of the bytes sent so far, in order, to compare with the server's."""

    def __init__(self, path: Path, offset: int) -> None:
        self.digest = hashlib.sha256()
        self.covered = 0
        for piece in _read_range(path, 0, offset):  # after a resume: the part sent before
            self._add(piece)

    def _add(self, piece: bytes) -> None:
        self.digest.update(piece)
        self.covered += len(piece)

    def passing(self, pieces: Iterator[bytes], offset: int) -> Iterator[bytes]:
        """Yield ``pieces`` (starting at ``offset``), hashing them when in sequence."""
        for piece in pieces:
            if offset == self.covered:
                self._add(piece)
            offset += len(piece)
            yield piece


def _patch(
    http: Http,
    token: str,
    url: str,
    path: Path,
    offset: int,
    length: int,
    whole: _WholeFile,
) -> tuple[int, str | None]:
    headers = {
        "Content-Type": OFFSET_STREAM,
        "Content-Length": str(length),
        "Upload-Offset": str(offset),
    }
    if os.environ.get(CHECKSUM_ENV, "").lower() == "chunk":
        digest = hashlib.sha256()
        for piece in _read_range(path, offset, length):  # first pass: the chunk's checksum
            digest.update(piece)
        headers["Upload-Checksum"] = "sha256 " + base64.b64encode(digest.digest()).decode()
    response = http.send(
        "PATCH",
        url,
        token=token,
        headers=_tus(headers),
        content=whole.passing(_read_range(path, offset, length), offset),
    )
    return int(response.headers["Upload-Offset"]), response.headers.get(SHA256_HEADER)


def _verify(path: Path, whole: _WholeFile, size: int, server_sha256: str | None) -> None:
    if server_sha256 is None:
        return  # an older server: the dossier's sha256 is still compared on download
    if whole.covered != size:  # retried pieces broke the sequence: hash the file again
        whole = _WholeFile(path, size)
    if whole.digest.hexdigest() != server_sha256:
        raise AgentError(
            _(
                "{name} arrived damaged (sha256 differs from the file sent). Submit it again; "
                "if it happens again, check the network."
            ).format(name=path.name)
        )


def _offers(retry: _Retry, server: Callable[[], Capabilities] | None) -> bool:
    """Whether the server takes a file's bytes with its creation (asked with retries)."""
    if server is None:
        return False
    try:
        return _with_retry(retry, lambda: server().creation_with_upload)
    except ApiError:
        return False  # OPTIONS refused (a proxy, say): create and PATCH, as tus core does


@contextmanager
def _bar(label: str, total: int, start: int, show: bool) -> Iterator[Callable[[int], None]]:
    if not show:
        yield lambda _done: None
        return
    with transfer_bars() as bar:
        task = bar.add_task(label, total=total, completed=start)
        yield lambda done: bar.update(task, completed=done)


def upload_file(
    http: Http,
    environment: str,
    token: str,
    path: Path,
    *,
    metadata: dict[str, str] | None = None,
    resume_url: str | None = None,
    on_created: Callable[[str], None] | None = None,
    progress: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
    server: Callable[[], Capabilities] | None = None,
) -> str:
    """Upload ``path`` to ``environment`` with tus; return the upload id.

    ``resume_url`` continues an earlier upload from the server's offset (a new one is made
    when the server no longer has it). ``on_created`` receives the URL of a new upload
    before any byte is sent, so a caller can persist it and resume after a crash.
    ``metadata`` adds Upload-Metadata pairs; ``filename`` and ``filetype`` default to the
    file's name and guessed media type. ``on_progress`` receives (bytes on the server,
    size) after each chunk, for a window's progress bar. ``server`` tells the server's
    capabilities (asked only for a small new upload): with creation-with-upload, a file
    up to ``ONE_REQUEST_BYTES`` is created and sent in one request (``on_created`` then
    receives its URL after its bytes, which is why only small files go that way).
    """
    size = path.stat().st_size
    pairs = {
        "filename": path.name,
        "filetype": mimetypes.guess_type(path.name, strict=False)[0] or "application/octet-stream",
        **(metadata or {}),
    }
    retry = _Retry()
    url: str | None = None
    offset = 0
    if resume_url:
        try:
            offset = _with_retry(retry, lambda: _offset(http, token, resume_url, size))
            url = resume_url
        except ApiError as exc:
            if exc.code not in _GONE:
                raise
    chunk = chunk_bytes()
    whole: _WholeFile | None = None
    server_sha256: str | None = None
    if url is None and size <= min(chunk, ONE_REQUEST_BYTES) and _offers(retry, server):
        url, offset, server_sha256, whole = _with_retry(
            retry, partial(_create_with_upload, http, environment, token, path, size, pairs)
        )
        retry.reset()
        if on_created is not None:
            on_created(url)
    if url is None:
        url = _with_retry(retry, lambda: _create(http, environment, token, size, pairs))
        offset = 0
        if on_created is not None:
            on_created(url)
    if whole is None or offset != whole.covered:
        whole = _WholeFile(path, offset)
    with _bar(path.name, size, offset, transfer_bars_wanted(progress)) as bar:

        def show(done: int) -> None:
            bar(done)
            if on_progress is not None:
                on_progress(done, size)

        show(offset)
        while offset < size:
            length = min(chunk, size - offset)
            try:
                offset, server_sha256 = _patch(http, token, url, path, offset, length, whole)
                retry.reset()
                show(offset)
                continue
            except ApiError as exc:
                if exc.code in ("offset_mismatch", "checksum_mismatch"):
                    # Someone (a killed run, a lost answer) moved the offset, or a chunk
                    # arrived damaged: ask where the server is and go on from there.
                    retry.wait_or_raise(exc)
                elif not _transient(exc):
                    raise
                else:
                    retry.wait_or_raise(exc)
            except ServerUnreachable as exc:
                retry.wait_or_raise(exc)
            offset = _with_retry(retry, partial(_offset, http, token, url, size))
            show(offset)
    _verify(path, whole, size, server_sha256)
    return upload_id_of(url)


def terminate(http: Http, token: str, url: str) -> None:
    """Delete an upload on the server (tus termination); gone ones are fine."""
    try:
        http.send("DELETE", url, token=token, headers=_tus())
    except ApiError as exc:
        if exc.code not in _GONE:
            raise
