"""The dossier routes as the agent uses them: items, the edit check, downloads verified
against ``Koppel-Sha256``, and new versions with ``If-Match``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from koppel.agent.atomic import atomic_writer
from koppel.agent.client import AgentClient, env_path, parse_model
from koppel.agent.errors import AgentError, CannotSave
from koppel.agent.verified_writer import VerifiedWriter
from koppel.protocol.dossier import (
    SHA256_HEADER,
    VERSION_HEADER,
    ItemList,
    ItemOut,
    NewVersionRequest,
    VersionOut,
)

Model = TypeVar("Model", bound=BaseModel)


def items(client: AgentClient, environment: str, token: str, params: dict[str, Any]) -> ItemList:
    """GET items: a page of the items the user may see."""
    wanted = {k: v for k, v in params.items() if v is not None}
    response = client.request("GET", env_path(environment, "items"), token=token, params=wanted)
    return parse_model(ItemList, response.content, client.base_url)


def item(client: AgentClient, environment: str, token: str, item_id: int) -> ItemOut:
    """GET items/{id}."""
    response = client.request("GET", env_path(environment, f"items/{item_id}"), token=token)
    return parse_model(ItemOut, response.content, client.base_url)


def editable_item(client: AgentClient, environment: str, token: str, item_id: int) -> ItemOut:
    """GET items/{id}/edit: the item, or the refusal (not_editable, connector_blocked)."""
    response = client.request("GET", env_path(environment, f"items/{item_id}/edit"), token=token)
    return parse_model(ItemOut, response.content, client.base_url)


def new_version(
    client: AgentClient,
    environment: str,
    token: str,
    item_id: int,
    attachment_id: int,
    *,
    upload_id: str,
    etag: str,
    keep_as_conflict: bool = False,
) -> VersionOut:
    """POST a finished upload as the next version of an attachment (If-Match: etag)."""
    body = NewVersionRequest(upload=upload_id, keep_as_conflict=keep_as_conflict)
    response = client.request(
        "POST",
        env_path(environment, f"items/{item_id}/attachments/{attachment_id}/versions"),
        token=token,
        json=body.model_dump(mode="json"),
        headers={"If-Match": etag},
    )
    return parse_model(VersionOut, response.content, client.base_url)


@dataclass(frozen=True)
class Downloaded:
    """What a download wrote."""

    path: Path
    number: int
    sha256: str
    etag: str
    size: int


def download(
    client: AgentClient,
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
    path = env_path(environment, f"items/{item_id}/attachments/{attachment_id}/content")
    if version is not None:
        path += f"?version={version}"
    with client.stream(path, token=token) as response:
        expected = response.headers.get(SHA256_HEADER, "").lower()
        number = int(response.headers.get(VERSION_HEADER, "0") or 0)
        etag = response.headers.get("etag", "")
        try:
            with atomic_writer(target, mode=0o600) as handle, VerifiedWriter(handle) as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)
                digest, size = out.hexdigest(), out.size
                if expected and digest != expected:
                    # Raising inside the writer removes the temporary file: nothing is kept.
                    raise AgentError(
                        f"The download of {target.name} was damaged on the way (its SHA-256 "
                        "differs from the server's); nothing was saved. Try again."
                    )
        except OSError as exc:  # local only: network failures are AgentErrors already
            raise CannotSave(target.name, target.parent, exc) from exc
    return Downloaded(target, number, digest, etag, size)


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
