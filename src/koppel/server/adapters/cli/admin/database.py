"""``koppel-admin db``: the metadata database and its migrations."""

from __future__ import annotations

from typing import Any

import typer

from koppel.server.adapters.cli.admin import output as out
from koppel.server.adapters.cli.admin.common import JsonOption, State, reporting, state_of
from koppel.server.adapters.cli.admin.output import Done

app = typer.Typer(help="The metadata database and its migrations.", no_args_is_help=True)


@app.command("init")
def db_init(ctx: typer.Context, json_mode: JsonOption = False) -> None:
    """Create the database of a new host and apply every migration (what `koppel-server`
    does at its first start); nothing changes when it exists. Other commands never
    create a database, so a mistyped --data-dir is refused instead of starting afresh.
    With --public-url (KOPPEL_PUBLIC_URL) it also records the address agents use."""
    from koppel.server.adapters.assembly import Presence, database_presence
    from koppel.server.domain.setup import host

    state: State = state_of(ctx)
    with reporting(json_mode):
        settings = state.settings()
        existed = database_presence(settings) is Presence.READY
        svc = state.services(migrate=True, create=True)
        current, _ = svc.database.revisions()
        if settings.public_url:
            with svc.transaction() as uow:
                host.announce(uow.host, settings.public_url, svc.policy.clock())
    where = state.database_description()
    if json_mode:
        out.emit_json({"changed": not existed, "database": where, "revision": current})
        return
    message = (
        f"database {where} already exists (revision {current})"
        if existed
        else f"database {where} created (revision {current}); start the server with "
        f"`koppel-server --data-dir {settings.data_dir}` or go on with `koppel-admin`"
    )
    out.show_outcomes([Done(None, _outcome(not existed, message))], False)


@app.command("upgrade")
def db_upgrade(ctx: typer.Context, json_mode: JsonOption = False) -> None:
    """Apply the migrations the database lacks (other commands do this at start unless
    KOPPEL_AUTO_MIGRATE=false)."""
    state: State = state_of(ctx)
    with reporting(json_mode):
        svc = state.services(migrate=False)
        before, head = svc.database.revisions()
        svc.database.upgrade()
        after, _ = svc.database.revisions()
    if json_mode:
        out.emit_json({"changed": before != after, "from": before, "to": after, "head": head})
        return
    out.show_outcomes(
        [
            Done(
                None,
                _outcome(
                    before != after,
                    f"database migrated from {before or 'empty'} to {after}"
                    if before != after
                    else f"database already at the newest revision {after}",
                ),
            )
        ],
        False,
    )


def _outcome(changed: bool, message: str) -> Any:
    from koppel.server.domain.setup.administration import Outcome

    return Outcome(changed, message)


@app.command("status")
def db_status(ctx: typer.Context, json_mode: JsonOption = False) -> None:
    """Show the database address and whether migrations are pending (changes nothing)."""
    from koppel.server.adapters.assembly import masked_url

    state: State = state_of(ctx)
    with reporting(json_mode):
        svc = state.services(migrate=False)
        current, head = svc.database.revisions()
    data = {
        "url": masked_url(svc.database.url),
        "revision": current,
        "head": head,
        "pending": current != head,
    }
    if json_mode:
        out.emit_json(data)
        return
    out.write(
        f"database  {data['url']}\n"
        f"revision  {current or '(empty)'}\n"
        f"newest    {head}\n"
        + (
            "pending   yes: run `koppel-admin db upgrade`"
            if current != head
            else "pending   no: up to date"
        )
    )
