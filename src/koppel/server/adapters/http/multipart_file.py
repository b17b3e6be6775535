"""A ``multipart/form-data`` body with one file, read as it arrives (the integration push
and the portal's forms).

Starlette's ``request.form()`` would first spool the whole body (of any size) to a
temporary file; here the declared ``Content-Length`` is checked before any byte is read,
and the file's bytes go through ``stream_into`` straight to an ``IncomingFile`` while
they are counted, so a client that declares less than it sends is stopped at the limit
too. ``accept`` sees the file's name and the fields before it before the file's first
byte is stored (the portal checks its CSRF token there). After a refusal the rest of the
body is read and dropped for a while, so that a browser still sending receives the
explanation instead of a broken connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from koppel.i18n import gettext as _
from koppel.protocol.errors import ErrorCode
from koppel.server.adapters.http.body_stream import stream_into
from koppel.server.domain.errors import DomainError
from koppel.server.domain.transfer.incoming import IncomingFile

# Room in the body for the form's other fields and the multipart framing.
FIELDS_ALLOWANCE = 64 * 1024
# The parser gets the body in pieces of this size (its callbacks store the file's part).
_PIECE_BYTES = 1024 * 1024
_LINGER_SECONDS = 10.0

# Called with the file part's field name, its file name and the fields before it.
Accept = Callable[[str, str, dict[str, str]], None]


@dataclass
class FilePart:
    """What the form carried besides the file's bytes (those are in the ``IncomingFile``):
    the text fields, and the file part's field, name and given media type (empty when
    the form had no file)."""

    fields: dict[str, str]
    field: str = ""
    filename: str = ""
    media_type: str = ""

    @property
    def has_file(self) -> bool:
        """Whether the form had a file part."""
        return bool(self.field)


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None
    value: bytearray = field(default_factory=bytearray)


class _Parts:
    """The parser's callbacks: fields into memory (bounded), the file into ``incoming``."""

    def __init__(self, incoming: IncomingFile, accept: Accept) -> None:
        self.incoming, self.accept = incoming, accept
        self.found = FilePart({})
        self.field_bytes = 0
        self.part = _Part()
        self.header_field = bytearray()
        self.header_value = bytearray()

    def on_part_begin(self) -> None:
        self.part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.part.headers[bytes(self.header_field).lower()] = bytes(self.header_value)
        self.header_field.clear()
        self.header_value.clear()

    def on_headers_finished(self) -> None:
        _value, options = parse_options_header(self.part.headers.get(b"content-disposition", b""))
        self.part.name = options.get(b"name", b"").decode("utf-8", "replace")
        raw = options.get(b"filename")
        if raw is None:
            return
        if self.found.has_file:
            raise DomainError(ErrorCode.VALIDATION_ERROR, _("Send one file at a time."))
        name = raw.decode("utf-8", "replace")
        self.accept(self.part.name, name, self.found.fields)
        self.part.filename = name
        given = self.part.headers.get(b"content-type", b"").decode("latin-1")
        self.found.field, self.found.filename, self.found.media_type = self.part.name, name, given

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        piece = data[start:end]
        if self.part.filename is None:
            self.field_bytes += len(piece)
            if self.field_bytes > FIELDS_ALLOWANCE:
                raise DomainError(ErrorCode.VALIDATION_ERROR, _("The form's fields are too long."))
            self.part.value += piece
            return
        self.incoming.feed(piece)

    def on_part_end(self) -> None:
        if self.part.filename is None and self.part.name:
            self.found.fields[self.part.name] = self.part.value.decode("utf-8", "replace")


def declared_length(request: Request) -> int:
    """The body's declared ``Content-Length`` (0 when absent)."""
    declared = request.headers.get("content-length", "")
    return int(declared) if declared.isdigit() else 0


async def linger(body: AsyncIterator[bytes]) -> None:
    """Read and drop the rest of a refused body, for a while."""

    async def drain() -> None:
        async for _chunk in body:
            pass

    with contextlib.suppress(TimeoutError, ClientDisconnect):
        await asyncio.wait_for(drain(), _LINGER_SECONDS)


async def read_file_form(
    request: Request,
    incoming: IncomingFile,
    accept: Accept,
    too_large: Callable[[int], DomainError],
    max_bytes: int,
) -> FilePart:
    """Read a multipart form with at most one file into ``incoming`` (the caller commits
    or discards it). A body declared larger than ``max_bytes`` plus the fields' room is
    refused with ``too_large(declared)`` before it is read; every refusal drains the body."""
    body = request.stream()
    try:
        content_type, options = parse_options_header(request.headers.get("content-type", ""))
        boundary = options.get(b"boundary")
        if content_type != b"multipart/form-data" or not boundary:
            raise DomainError(
                ErrorCode.VALIDATION_ERROR, _("Send the form as multipart/form-data with a file.")
            )
        length = declared_length(request)
        if length > max_bytes + FIELDS_ALLOWANCE:
            raise too_large(length)
        parts = _Parts(incoming, accept)
        parser = MultipartParser(
            boundary,
            {
                "on_part_begin": parts.on_part_begin,
                "on_header_field": parts.on_header_field,
                "on_header_value": parts.on_header_value,
                "on_header_end": parts.on_header_end,
                "on_headers_finished": parts.on_headers_finished,
                "on_part_data": parts.on_part_data,
                "on_part_end": parts.on_part_end,
            },
        )

        def parse(*pieces: bytes) -> None:
            try:
                parser.write(b"".join(pieces))
            except MultipartParseError as exc:
                raise DomainError(
                    ErrorCode.VALIDATION_ERROR,
                    _(
                        "The body is not a valid multipart/form-data form ({exc}); send the "
                        "file as a form field."
                    ).format(exc=exc),
                ) from exc

        await stream_into(body, parse, piece_bytes=_PIECE_BYTES)
        parser.finalize()
        return parts.found
    except DomainError:
        await linger(body)
        raise
