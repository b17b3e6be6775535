"""``koppel edit``: edit an attachment; every save becomes a new version on the server.

Light at import time: ``cli/typer_app.py`` imports this module for every command.
"""

from __future__ import annotations

from typing import Annotated

import typer

from koppel.agent.cli.common import ChosenEnvOption, JsonOption, note, reporting, usage
from koppel.i18n import gettext as _


@usage(
    _(
        "Edit an attachment of an item in its default program; every save is uploaded as a "
        "new version. Only for editable item types while the environment's "
        "temporary-office-access connector is open."
    )
    + "\n\n"
    + _(
        "Runs until Ctrl+C (the edit stays open: run `koppel edit ITEM` again to resume) or "
        "`koppel edit --finish ITEM` from another terminal. When someone else saved in "
        "between, your save is kept as a conflict version and you are told: nothing is "
        "overwritten."
    ),
    "koppel edit 1234 --attachment report.docx",
    "koppel edit --finish 1234",
)
def edit(
    item: Annotated[
        int | None, typer.Argument(metavar="ITEM", help=_("The item's id (see `koppel items`)."))
    ] = None,
    env: ChosenEnvOption = None,
    attachment: Annotated[
        str | None,
        typer.Option("--attachment", "-a", help=_("Attachment name (needed when several).")),
    ] = None,
    finish: Annotated[
        bool,
        typer.Option("--finish", help=_("Save a last unsaved change and end the edit of ITEM.")),
    ] = False,
    discard: Annotated[
        bool,
        typer.Option("--discard", help=_("Forget local changes and the working copy of ITEM.")),
    ] = False,
    list_sessions: Annotated[
        bool, typer.Option("--list", help=_("List the edits open on this workstation."))
    ] = False,
    json_output: JsonOption = False,
) -> None:
    from koppel.agent.errors import AgentError
    from koppel.agent.exit_codes import ExitCode

    with reporting(json_output):
        if list_sessions:
            _list(json_output)
            return
        if item is None:
            raise AgentError(
                _("Name the item to edit (its id; see `koppel items`)."), ExitCode.USAGE
            )
        if finish and discard:
            raise AgentError(_("Choose --finish or --discard, not both."), ExitCode.USAGE)
        if finish or discard:
            _end(item, env, attachment, finish, json_output)
            return
        _run(item, env, attachment, json_output)


def _list(json_output: bool) -> None:
    from koppel.agent.editing import pending_change
    from koppel.agent.local import edit_sessions as edit_session
    from koppel.agent.output import print_json, print_table

    sessions = edit_session.all_sessions()
    if json_output:
        print_json([{**s.as_json(), "changed_locally": pending_change(s)} for s in sessions])
        return
    if not sessions:
        note(_("No edit is open on this workstation."))
        return
    print_table(
        (_("ENVIRONMENT"), _("ITEM"), _("ATTACHMENT"), _("VERSION"), _("STATE"), _("PATH")),
        [
            (
                s.environment,
                str(s.item),
                s.attachment,
                str(s.number),
                _state_words(s.watching(), pending_change(s)),
                str(s.path),
            )
            for s in sessions
        ],
    )


def _state_words(watching: bool, changed: bool) -> str:
    if watching:
        return _("watching, changed locally") if changed else _("watching")
    return _("stopped, changed locally") if changed else _("stopped")


def _end(
    item: int, env: str | None, attachment: str | None, finish: bool, json_output: bool
) -> None:
    from koppel.agent import editing
    from koppel.agent.output import print_json

    session = (editing.finish if finish else editing.discard)(env, item, attachment)
    word = "finished" if finish else "discarded"
    if json_output:
        print_json({**session.as_json(), "result": word})
    else:
        note(_ended(session.attachment, item, word))


def _ended(attachment: str, item: int, outcome: str) -> str:
    if outcome == "finished":
        text = _("The edit of {attachment} (item {item}) is finished.")
    else:
        text = _("The edit of {attachment} (item {item}) is discarded.")
    return text.format(attachment=attachment, item=item)


def _run(item: int, env: str | None, attachment: str | None, json_output: bool) -> None:
    from koppel.agent import editing
    from koppel.agent.output import print_json

    session = editing.start(env, item, attachment)
    outcome = editing.watch(session)
    if json_output:
        print_json({**session.as_json(), "result": outcome})
    elif outcome == "stopped":
        note(
            _(
                "Stopped watching {path}. Resume with `koppel edit {item} --env "
                "{environment}`, or end it with --finish (saves a last change) or --discard."
            ).format(path=session.path, item=item, environment=session.environment)
        )
    else:
        note(_ended(session.attachment, item, outcome))
