"""``koppel open``: download an attachment of an item, verified, into a per-environment
folder of the agent's data folder, and open it in its default program.

One request asks the server for the item's newest (or named) attachment and streams it;
neither the item's JSON nor the protocol's models are needed, so the command does not
load pydantic (every "open" from the portal or a file manager is a fresh process). A
server older than that route answers ``not_found``: the attachment is then chosen from
the item as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from koppel.agent import timings
from koppel.agent.api.content import ContentClient
from koppel.agent.choose import choose
from koppel.agent.downloading import Downloaded, download_attachment, save_verified
from koppel.agent.environments import explain
from koppel.agent.errors import ApiError
from koppel.agent.local.file_names import local_name
from koppel.agent.local.paths import data_dir


def opened_folder(environment: str) -> Path:
    """Where ``koppel open`` puts downloaded attachments of one environment."""
    return data_dir() / "opened" / environment


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
    from koppel.agent.local.opener import open_file

    target = choose(env)
    timings.mark("token read")
    code = target.env.code
    try:
        with ContentClient(target.env.api_url) as client:
            done, name = _download(client, code, target.token, item_id, attachment)
    except ApiError as exc:
        raise explain(code, exc) from exc
    open_file(done.path)
    timings.mark("open")
    return Opened(code, item_id, name, done.number, done.path, done.sha256)


def _target(environment: str, item_id: int, attachment_id: int, file_name: str | None) -> Path:
    folder = opened_folder(environment) / f"{item_id}-{attachment_id}"
    return folder / local_name(file_name or "", folder, fallback=f"item-{item_id}")


def _download(
    client: ContentClient, code: str, token: str, item_id: int, attachment: str | None
) -> tuple[Downloaded, str]:
    """The download and the attachment's name."""
    try:
        with client.item_content(code, token, item_id, attachment) as content:
            timings.mark("request")
            if content.attachment_id:
                path = _target(code, item_id, content.attachment_id, content.file_name)
                name = content.attachment_name or path.name
                return save_verified(content, path), name
    except ApiError as exc:
        if exc.code != "not_found":
            raise
    # A server without the route (or an item or name it does not know: the item then
    # says what there is).
    return _download_from_item(client.base_url, code, token, item_id, attachment)


def _download_from_item(
    url: str, code: str, token: str, item_id: int, attachment: str | None
) -> tuple[Downloaded, str]:
    from koppel.agent.api import AgentClient
    from koppel.agent.dossier import pick_attachment

    with AgentClient(url) as client:
        chosen = pick_attachment(client.item(code, token, item_id), attachment)
        timings.mark("request")
        path = _target(code, item_id, chosen.id, chosen.current.name)
        return download_attachment(client, code, token, item_id, chosen.id, path), chosen.name
