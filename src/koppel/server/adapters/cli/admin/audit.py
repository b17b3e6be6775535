"""``koppel-admin audit``: the audit log, newest first.

A command of the root app (no group): ``app.py`` registers :func:`audit`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from koppel.server.adapters.cli.admin import output as out
from koppel.server.adapters.cli.admin.common import JsonOption, env_code, unit_of_work


def audit(
    ctx: typer.Context,
    env: Annotated[str | None, typer.Option("--env", help="Only this environment.")] = None,
    actor: Annotated[
        str | None, typer.Option("--actor", help="Only this actor, e.g. cli:root or anna.")
    ] = None,
    action: Annotated[
        str | None,
        typer.Option("--action", help="Only actions starting with this, e.g. connector."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 50,
    json_mode: JsonOption = False,
) -> None:
    """Show the audit log, newest first: who changed what, when, in which environment."""
    with unit_of_work(ctx, json_mode) as admin:
        entries = admin.repo.audit_entries(
            env_code(env) if env else None, actor, action.rstrip(".") if action else None, limit
        )
    if json_mode:
        out.emit_json(
            {
                "entries": [
                    {
                        "at": e.at,
                        "actor": e.actor,
                        "action": e.action,
                        "environment": e.environment,
                        "detail": e.detail,
                    }
                    for e in entries
                ]
            }
        )
        return
    import json

    out.table(
        ["at", "actor", "action", "env", "detail"],
        [
            (
                e.at,
                e.actor,
                e.action,
                e.environment,
                json.dumps(e.detail, ensure_ascii=False, default=str) if e.detail else None,
            )
            for e in entries
        ],
        "audit entries",
    )
