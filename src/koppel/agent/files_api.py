"""The My files, analyses and event routes as the agent uses them."""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from koppel.agent.client import AgentClient, env_path, parse_model
from koppel.agent.errors import AgentError, CannotSave
from koppel.agent.local_names import local_name, numbered, temporary_name
from koppel.agent.verified_writer import VerifiedWriter
from koppel.protocol.api import API_PREFIX, StatusQuery
from koppel.protocol.events import EventSession, EventSessionRequest
from koppel.protocol.files import (
    SHA256_HEADER,
    AnalysisAccepted,
    AnalysisRequest,
    OutputFileList,
    OutputFileOut,
    PendingFilesRequest,
    PendingFilesResponse,
)

Model = TypeVar("Model", bound=BaseModel)
_CHUNK = 1024 * 1024
# The suffix of a file being received; never seen under its final name half-written.
PART_SUFFIX = ".koppel-part"


def list_files(client: AgentClient, environment: str, token: str) -> list[OutputFileOut]:
    """GET files: My files of the token's user, newest first."""
    response = client.request("GET", env_path(environment, "files"), token=token)
    return parse_model(OutputFileList, response.content, client.base_url).files


def request_analysis(
    client: AgentClient, environment: str, token: str, destination: str | None
) -> AnalysisAccepted:
    """POST analyses: queue a dossier overview; its file id (pending)."""
    body = AnalysisRequest(kind="dossier-overview", destination=destination)
    response = client.request(
        "POST", env_path(environment, "analyses"), token=token, json=body.model_dump(mode="json")
    )
    return parse_model(AnalysisAccepted, response.content, client.base_url)


def mark_delivered(client: AgentClient, environment: str, token: str, file_id: int) -> None:
    """POST files/{id}/delivered: this workstation has the file."""
    client.request("POST", env_path(environment, f"files/{file_id}/delivered"), token=token)


def unique_target(folder: Path, name: str) -> Path:
    """``folder/name``, or ``name (2).ext``, ``name (3).ext``... when it exists (each
    shortened to what the folder's file system takes)."""
    candidate = folder / name
    number = 2
    while candidate.exists():
        candidate = folder / numbered(name, number, folder)
        number += 1
    return candidate


def download(
    client: AgentClient, environment: str, token: str, file: OutputFileOut, folder: Path
) -> Path:
    """Download a ready file into ``folder`` under a temporary name, verify its SHA-256,
    then give it its own (unique) name; the final path. Nothing is left on failure;
    :class:`CannotSave` when this workstation cannot write it there."""
    name = local_name(file.name, folder)
    temp = folder / temporary_name(name, folder, uuid.uuid4().hex[:8], PART_SUFFIX)
    path = env_path(environment, f"files/{file.id}/content")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with client.stream(path, token=token) as response, temp.open("wb") as handle:
            announced = response.headers.get(SHA256_HEADER, "")
            with VerifiedWriter(handle) as out:
                for chunk in response.iter_bytes(_CHUNK):
                    out.write(chunk)
                actual = out.hexdigest()
            handle.flush()
            os.fsync(handle.fileno())
        expected = {v for v in (announced, file.sha256) if v}
        if not expected or expected != {actual}:
            raise AgentError(
                f"The download of {file.name} from {environment} is damaged (SHA-256 "
                f"{actual} instead of {', '.join(sorted(expected)) or 'unknown'}); nothing "
                "was kept. Try again."
            )
        return _place(temp, folder, name)
    except OSError as exc:  # local only: network failures are AgentErrors already
        raise CannotSave(file.name, folder, exc) from exc
    finally:
        with contextlib.suppress(OSError):
            temp.unlink(missing_ok=True)


def _place(temp: Path, folder: Path, name: str) -> Path:
    # A hard link never replaces an existing file, even if another process raced us.
    while True:
        target = unique_target(folder, name)
        try:
            os.link(temp, target)
            return target
        except FileExistsError:
            continue
        except OSError:  # no hard links on this file system
            if target.exists():
                continue
            os.replace(temp, target)
            return target


def pending(
    client: AgentClient, queries: list[StatusQuery], workstation_id: str
) -> PendingFilesResponse:
    """POST /files/pending: undelivered ready files of many environments at once."""
    body = PendingFilesRequest(environments=queries, workstation_id=workstation_id)
    response = client._send(  # the tokens travel in the body, not in a header
        "POST", f"{API_PREFIX}/files/pending", json=body.model_dump(mode="json")
    )
    return parse_model(PendingFilesResponse, response.content, client.base_url)


def open_session(
    client: AgentClient, queries: list[StatusQuery], workstation_id: str
) -> EventSession:
    """POST /event-sessions: one session for all the environments on this server."""
    body = EventSessionRequest(environments=queries, workstation_id=workstation_id)
    response = client._send(
        "POST", f"{API_PREFIX}/event-sessions", json=body.model_dump(mode="json")
    )
    return parse_model(EventSession, response.content, client.base_url)
