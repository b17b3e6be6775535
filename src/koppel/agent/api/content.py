"""The downloads of the agent API, and the connection every call of a server shares.

Nothing here needs the protocol's pydantic models: ``koppel open`` downloads through a
:class:`ContentClient` without loading them (``tests/test_startup.py``).
:class:`~koppel.agent.api.client.AgentClient` is a ContentClient with a method for every
other route.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from types import TracebackType
from typing import Self
from urllib.parse import quote, unquote

import httpx

from koppel.agent.api._body import BodyReader, body_chunks, body_reader
from koppel.agent.api._http import Http, attachment_name, env_path
from koppel.protocol.wire import (
    ATTACHMENT_ID_HEADER,
    ATTACHMENT_NAME_HEADER,
    SHA256_HEADER,
    VERSION_HEADER,
)


@dataclass(frozen=True)
class Content:
    """A download being received: what the server announced, and its bytes."""

    response: httpx.Response
    sha256: str  # the server's SHA-256 of the content, lower case ("" when not announced)
    version: int  # the attachment version (0 when not announced)
    etag: str
    file_name: str | None  # from Content-Disposition, reduced to a plain base name
    # Which attachment an item's content is (0 and None on other downloads).
    attachment_id: int = 0
    attachment_name: str | None = None

    def chunks(self, size: int | None = None) -> Iterator[bytes]:
        """The body, as it arrives (in chunks of ``size`` when given; else of any size,
        read straight from the socket when the body is large)."""
        chunks = body_chunks(self.response) if size is None else self.response.iter_bytes(size)
        follow = _following.get()
        return chunks if follow is None else _followed(self, chunks, follow)

    def reader(self) -> BodyReader:
        """The body, received into the caller's buffers (``readinto``); followed by the
        progress bar when one is shown (``following_downloads``)."""
        reader = body_reader(self.response)
        follow = _following.get()
        return reader if follow is None else _FollowedReader(self, reader, follow)

    @property
    def length(self) -> int | None:
        """The size the server announced (Content-Length), if it did."""
        announced = self.response.headers.get("content-length", "")
        return int(announced) if announced.isdigit() else None


#: Told of each chunk a download receives: the content and the chunk's size in bytes.
DownloadProgress = Callable[[Content, int], None]
# Set by ``following_downloads`` (the command line's progress bar); None: nobody follows.
_following: ContextVar[DownloadProgress | None] = ContextVar("koppel_download", default=None)


@contextlib.contextmanager
def following_downloads(progress: DownloadProgress) -> Iterator[None]:
    """Tell ``progress`` of every chunk the downloads made in this context receive (the
    bar of ``koppel open`` and ``koppel files get``), without passing it down every call."""
    token = _following.set(progress)
    try:
        yield
    finally:
        _following.reset(token)


def _followed(
    content: Content, chunks: Iterator[bytes], progress: DownloadProgress
) -> Iterator[bytes]:
    for chunk in chunks:
        progress(content, len(chunk))
        yield chunk


class _FollowedReader:
    """A body reader that tells the progress bar of each buffer it fills."""

    def __init__(self, content: Content, reader: BodyReader, progress: DownloadProgress) -> None:
        self._content, self._reader, self._progress = content, reader, progress

    def readinto(self, buffer: memoryview) -> int:
        count = self._reader.readinto(buffer)
        if count:
            self._progress(self._content, count)
        return count


def content_of(response: httpx.Response) -> Content:
    """What a content response announces in its headers."""
    headers = response.headers
    chosen = headers.get(ATTACHMENT_ID_HEADER, "")
    name = headers.get(ATTACHMENT_NAME_HEADER)
    return Content(
        response=response,
        sha256=headers.get(SHA256_HEADER, "").lower(),
        version=int(headers.get(VERSION_HEADER, "0") or 0),
        etag=headers.get("etag", ""),
        file_name=attachment_name(headers.get("content-disposition", "")),
        attachment_id=int(chosen) if chosen.isdigit() else 0,
        attachment_name=unquote(name) if name else None,
    )


class ContentClient:
    """A connection to one Koppel server (one api_url), reused for all its environments;
    the downloads of its dossier and of My files."""

    def __init__(self, url: str, *, transport: httpx.BaseTransport | None = None) -> None:
        self._http = Http(url, transport=transport)
        self.base_url = self._http.base_url

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    @contextlib.contextmanager
    def attachment_content(
        self,
        environment: str,
        token: str,
        item_id: int,
        attachment_id: int,
        *,
        version: int | None = None,
    ) -> Iterator[Content]:
        """GET an attachment's content (its latest version, or ``version``), streamed."""
        path = env_path(environment, f"items/{item_id}/attachments/{attachment_id}/content")
        if version is not None:
            path += f"?version={version}"
        with self._http.stream(path, token=token) as response:
            yield content_of(response)

    @contextlib.contextmanager
    def item_content(
        self, environment: str, token: str, item_id: int, attachment: str | None = None
    ) -> Iterator[Content]:
        """GET the current content of an item's newest attachment (or of the one named),
        streamed; the Content says which attachment it is. A server older than this
        route answers ``not_found`` (as it does for an item that does not exist)."""
        path = env_path(environment, f"items/{item_id}/content")
        if attachment is not None:
            path += f"?attachment={quote(attachment, safe='')}"
        with self._http.stream(path, token=token) as response:
            yield content_of(response)

    @contextlib.contextmanager
    def my_file_content(self, environment: str, token: str, file_id: int) -> Iterator[Content]:
        """GET files/{id}/content, streamed."""
        path = env_path(environment, f"files/{file_id}/content")
        with self._http.stream(path, token=token) as response:
            yield content_of(response)
