"""``koppel edit``: edit an attachment; every save becomes a new version on the server.

Light at import time: ``cli/typer_app.py`` imports this module for every command.
"""

from __future__ import annotations

from typing import Annotated

import typer

from koppel.agent.cli.common import ChosenEnvOption, JsonOption, reporting


def edit(
    item: Annotated[int | None, typer.Argument(help="The item's id (see `koppel items`).")] = None,
    env: ChosenEnvOption = None,
    attachment: Annotated[
        str | None,
        typer.Option("--attachment", "-a", help="Attachment name (needed when several)."),
    ] = None,
    finish: Annotated[
        bool,
        typer.Option("--finish", help="Save a last unsaved change and end the edit of ITEM."),
    ] = False,
    discard: Annotated[
        bool,
        typer.Option("--discard", help="Forget local changes and the working copy of ITEM."),
    ] = False,
    list_sessions: Annotated[
        bool, typer.Option("--list", help="List the edits open on this workstation.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Edit an attachment of an item in its default program; every save is uploaded as a
    new version. Only for editable item types while the environment's
    temporary-office-access connector is open.

    Runs until Ctrl+C (the edit stays open: run `koppel edit ITEM` again to resume) or
    `koppel edit --finish ITEM` from another terminal. When someone else saved in between,
    your save is kept as a conflict version and you are told: nothing is overwritten.
    """
    from koppel.agent.errors import AgentError
    from koppel.agent.exit_codes import ExitCode

    with reporting(json_output):
        if list_sessions:
            _list(json_output)
            return
        if item is None:
            raise AgentError("Name the item to edit (its id; see `koppel items`).", ExitCode.USAGE)
        if finish and discard:
            raise AgentError("Choose --finish or --discard, not both.", ExitCode.USAGE)
        if finish or discard:
            _end(item, env, attachment, finish, json_output)
            return
        _run(item, env, attachment, json_output)


def _list(json_output: bool) -> None:
    from koppel.agent.editing import pending_change
    from koppel.agent.local import edit_sessions as edit_session
    from koppel.agent.output import note, print_json, print_table

    sessions = edit_session.all_sessions()
    if json_output:
        print_json([{**s.as_json(), "changed_locally": pending_change(s)} for s in sessions])
        return
    if not sessions:
        note("No edit is open on this workstation.")
        return
    print_table(
        ("ENVIRONMENT", "ITEM", "ATTACHMENT", "VERSION", "STATE", "PATH"),
        [
            (
                s.environment,
                str(s.item),
                s.attachment,
                str(s.number),
                ("watching" if s.watching() else "stopped")
                + (", changed locally" if pending_change(s) else ""),
                str(s.path),
            )
            for s in sessions
        ],
    )


def _end(
    item: int, env: str | None, attachment: str | None, finish: bool, json_output: bool
) -> None:
    from koppel.agent import editing
    from koppel.agent.output import note, print_json

    session = (editing.finish if finish else editing.discard)(env, item, attachment)
    word = "finished" if finish else "discarded"
    if json_output:
        print_json({**session.as_json(), "result": word})
    else:
        note(f"The edit of {session.attachment} (item {item}) is {word}.")


def _run(item: int, env: str | None, attachment: str | None, json_output: bool) -> None:
    from koppel.agent import editing
    from koppel.agent.output import note, print_json

    session = editing.start(env, item, attachment)
    outcome = editing.watch(session)
    if json_output:
        print_json({**session.as_json(), "result": outcome})
    elif outcome == "stopped":
        note(
            f"Stopped watching {session.path}. Resume with `koppel edit {item} --env "
            f"{session.environment}`, or end it with --finish (saves a last change) or "
            "--discard."
        )
    else:
        note(f"The edit of {session.attachment} (item {item}) is {outcome}.")
