"""``koppel items`` and ``koppel open``: search the dossier, and open an attachment in
its default program from a per-environment folder of the agent's data folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from koppel.agent.api import AgentClient
from koppel.agent.choose import Target, choose
from koppel.agent.downloading import download_attachment
from koppel.agent.environments import explain
from koppel.agent.errors import AgentError, ApiError
from koppel.agent.exit_codes import ExitCode
from koppel.agent.local.file_names import local_name
from koppel.agent.local.paths import data_dir
from koppel.protocol.dossier import AttachmentOut, ItemList, ItemOut


def opened_folder(environment: str) -> Path:
    """Where ``koppel open`` puts downloaded attachments of one environment."""
    return data_dir() / "opened" / environment


def search(
    env: str | None,
    *,
    destination: str | None = None,
    type_name: str | None = None,
    text: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Target, ItemList]:
    """A page of the items of the chosen environment that match."""
    target = choose(env)
    params: dict[str, Any] = {
        "destination": destination,
        "type": type_name,
        "text": text,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "limit": limit,
        "offset": offset,
    }
    try:
        with AgentClient(target.env.api_url) as client:
            found = client.items(target.env.code, target.token, params)
    except ApiError as exc:
        raise explain(target.env.code, exc) from exc
    return target, found


def safe_name(name: str, fallback: str) -> str:
    """A server-given file name reduced to a plain base name (never a path)."""
    base = os.path.basename(name.replace("\\", "/")).strip()
    return base if base and base not in (".", "..") else fallback


def pick_attachment(item: ItemOut, name: str | None) -> AttachmentOut:
    """The attachment named (or the newest one when no name is given)."""
    if not item.attachments:
        raise AgentError(f"Item {item.id} has no attachments.")
    if name is None:
        return max(item.attachments, key=lambda a: (a.current.created, a.id))
    for attachment in item.attachments:
        if attachment.name == name or attachment.name.lower() == name.lower():
            return attachment
    choices = ", ".join(a.name for a in item.attachments)
    raise AgentError(
        f"Item {item.id} has no attachment {name!r}; its attachments: {choices}.",
        ExitCode.USAGE,
    )


@dataclass(frozen=True)
class Opened:
    """What ``koppel open`` downloaded."""

    environment: str
    item: int
    attachment: str
    version: int
    path: Path
    sha256: str

    def as_json(self) -> dict[str, Any]:
        """The result as ``--json`` prints it."""
        return {
            "environment": self.environment,
            "item": self.item,
            "attachment": self.attachment,
            "version": self.version,
            "path": str(self.path),
            "sha256": self.sha256,
        }


def open_item(env: str | None, item_id: int, attachment: str | None = None) -> Opened:
    """Download an attachment (default: the newest) of an item, verified, and open it."""
    from koppel.agent import timings
    from koppel.agent.local.opener import open_file

    target = choose(env)
    timings.mark("token read")
    code = target.env.code
    try:
        with AgentClient(target.env.api_url) as client:
            item = client.item(code, target.token, item_id)
            chosen = pick_attachment(item, attachment)
            timings.mark("request")
            folder = opened_folder(code) / f"{item_id}-{chosen.id}"
            name = local_name(chosen.current.name, folder, fallback=f"item-{item_id}")
            path = folder / name
            done = download_attachment(client, code, target.token, item_id, chosen.id, path)
    except ApiError as exc:
        raise explain(code, exc) from exc
    open_file(done.path)
    timings.mark("open")
    return Opened(code, item_id, chosen.name, done.number, done.path, done.sha256)
