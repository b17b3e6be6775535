"""``koppel items`` and ``koppel open``: search the dossier, and open an attachment in
its default program from a per-environment folder of the agent's data folder."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from koppel.agent.api import AgentClient
from koppel.agent.choose import Target, choose
from koppel.agent.environments import explain
from koppel.agent.errors import AgentError, ApiError
from koppel.agent.exit_codes import ExitCode
from koppel.i18n import gettext as _
from koppel.protocol.dossier import AttachmentOut, ItemList, ItemOut


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
        raise AgentError(_("Item {number} has no attachments.").format(number=item.id))
    if name is None:
        return max(item.attachments, key=lambda a: (a.current.created, a.id))
    for attachment in item.attachments:
        if attachment.name == name or attachment.name.lower() == name.lower():
            return attachment
    choices = ", ".join(a.name for a in item.attachments)
    raise AgentError(
        _("Item {number} has no attachment {name}; its attachments: {choices}.").format(
            number=item.id, name=repr(name), choices=choices
        ),
        ExitCode.USAGE,
    )
