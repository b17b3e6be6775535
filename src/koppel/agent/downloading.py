"""Downloads saved on this workstation: attachments (written atomically) and My files
(under a name of their own), both verified against the server's SHA-256 before they
get their final name; nothing is left behind on failure."""

from __future__ import annotations

import contextlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from koppel.agent import timings
from koppel.agent.api.content import Content, ContentClient
from koppel.agent.errors import AgentError, CannotSave
from koppel.agent.local.atomic import atomic_writer
from koppel.agent.local.file_names import local_name, temporary_name
from koppel.agent.local.my_files_folder import PART_SUFFIX, place
from koppel.agent.local.verified_writer import VerifiedWriter
from koppel.i18n import gettext as _

if TYPE_CHECKING:
    from koppel.protocol.files import OutputFileOut


@dataclass(frozen=True)
class Downloaded:
    """What a download wrote."""

    path: Path
    number: int
    sha256: str
    etag: str
    size: int


def download_attachment(
    client: ContentClient,
    environment: str,
    token: str,
    item_id: int,
    attachment_id: int,
    target: Path,
    *,
    version: int | None = None,
) -> Downloaded:
    """Stream an attachment's content to a temporary name beside ``target``, check its
    SHA-256 against the server's, and only then rename it to ``target``."""
    with client.attachment_content(
        environment, token, item_id, attachment_id, version=version
    ) as content:
        timings.mark("request")
        return save_verified(content, target)


def save_verified(content: Content, target: Path) -> Downloaded:
    """Receive ``content`` into a temporary name beside ``target``, check its SHA-256
    against the server's, and only then rename it to ``target``; nothing is left behind
    on failure."""
    expected = content.sha256
    try:
        with atomic_writer(target, mode=0o600) as handle, VerifiedWriter(handle) as out:
            out.receive(content.reader().readinto)
            timings.mark("transfer")
            digest, size = out.hexdigest(), out.size
            timings.mark("verify")
            if expected and digest != expected:
                # Raising inside the writer removes the temporary file: nothing is kept.
                raise AgentError(
                    _(
                        "The download of {name} was damaged on the way (its SHA-256 differs "
                        "from the server's); nothing was saved. Try again."
                    ).format(name=target.name)
                )
    except OSError as exc:  # local only: network failures are AgentErrors already
        raise CannotSave(target.name, target.parent, exc) from exc
    timings.mark("fsync")  # the writer's fsync, rename and folder fsync
    return Downloaded(target, content.version, digest, content.etag, size)


def download_my_file(
    client: ContentClient, environment: str, token: str, file: OutputFileOut, folder: Path
) -> Path:
    """Download a ready file into ``folder`` under a temporary name, verify its SHA-256,
    then give it its own (unique) name; the final path. Nothing is left on failure;
    :class:`CannotSave` when this workstation cannot write it there."""
    name = local_name(file.name, folder)
    temp = folder / temporary_name(name, folder, uuid.uuid4().hex[:8], PART_SUFFIX)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with (
            client.my_file_content(environment, token, file.id) as content,
            temp.open("wb") as handle,
        ):
            announced = content.sha256
            with VerifiedWriter(handle) as out:
                out.receive(content.reader().readinto)
                actual = out.hexdigest()
            handle.flush()
            os.fsync(handle.fileno())
        expected = {v for v in (announced, file.sha256) if v}
        if not expected or expected != {actual}:
            raise AgentError(
                _(
                    "The download of {name} from {environment} is damaged (SHA-256 {actual} "
                    "instead of {expected}); nothing was kept. Try again."
                ).format(
                    name=file.name,
                    environment=environment,
                    actual=actual,
                    expected=", ".join(sorted(expected)) or _("unknown"),
                )
            )
        return place(temp, folder, name)
    except OSError as exc:  # local only: network failures are AgentErrors already
        raise CannotSave(file.name, folder, exc) from exc
    finally:
        with contextlib.suppress(OSError):
            temp.unlink(missing_ok=True)
