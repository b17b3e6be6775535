"""``koppel submit`` and ``koppel queue``: send files as one dossier item, and manage the
queue of submissions not sent yet. Light at import time (``cli/typer_app.py`` imports it always)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from koppel.agent.cli.common import (
    JsonOption,
    TransfersOption,
    described,
    desktop_app,
    note,
    reporting,
    usage,
)
from koppel.agent.exit_codes import ExitCode
from koppel.agent.transfers import DEFAULT_TRANSFERS
from koppel.i18n import gettext as _

queue_app = typer.Typer(
    help=described(
        _(
            "The submissions not sent yet (server unreachable, or refused): `koppel queue` "
            "lists them, `send` sends them now, `cancel ID` drops one."
        ),
        "koppel queue --json",
    ),
    invoke_without_command=True,
)


def _exit_for(results: list[Any]) -> int:
    from koppel.agent.errors import exit_code_for
    from koppel.agent.exit_codes import ExitCode

    worst = 0
    for result in results:
        if result.state == "queued":
            worst = worst or int(ExitCode.QUEUED)
        elif result.state == "failed":
            code = exit_code_for(result.code or "")
            if result.code in ("too_large", "unsafe_name", "empty_file", "extension_not_allowed"):
                code = ExitCode.FILE_REFUSED
            worst = int(code)
    return worst


@usage(
    _("Send files as one item of the dossier (checked first; queued when offline).")
    + "\n\n"
    + _(
        "Every file is checked before any byte is sent: readable, not empty, a safe name, "
        "within the server's limit and of a type the environment accepts; if one is "
        "refused, nothing is sent. Older queued submissions are sent first. An interrupted "
        "submission resumes where it stopped with `koppel queue send`. Several files are "
        "sent at once (--transfers, 4 by default); the item keeps them in the order given."
    ),
    "koppel submit invoice.pdf --to D0001 --type Invoice",
    "koppel submit --gui invoice.pdf",
    "koppel submit scans/*.pdf --to D0001 --type Invoice --transfers 8",
)
def submit(
    files: Annotated[
        list[Path], typer.Argument(metavar="FILES", help=_("The files of the item (one or more)."))
    ],
    to: Annotated[
        str | None, typer.Option("--to", help=_("The destination code (e.g. a client)."))
    ] = None,
    type_name: Annotated[
        str | None, typer.Option("--type", help=_("The item type, e.g. Invoice."))
    ] = None,
    subject: Annotated[
        str | None,
        typer.Option(
            "--subject",
            help=_("The item's subject (default: an e-mail's subject, or the name)."),
        ),
    ] = None,
    env: Annotated[
        str | None,
        typer.Option("--env", help=_("Environment code; needed when several are linked.")),
    ] = None,
    json_output: JsonOption = False,
    transfers: TransfersOption = DEFAULT_TRANSFERS,
    gui: Annotated[
        bool,
        typer.Option(
            "--gui",
            help=_(
                "Open the send window with these files instead: --env, --to, --type and "
                "--subject are filled in there, the rest is chosen in it (needs pip install "
                "'koppel[desktop]')."
            ),
        ),
    ] = False,
) -> None:
    if gui:
        raise typer.Exit(
            desktop_app().run_submit_window(
                files, environment=env, destination=to, item_type=type_name, subject=subject
            )
        )
    for value, option in ((to, "--to"), (type_name, "--type")):
        if not value:
            from koppel.agent.output import error

            error(
                _(
                    "Missing option '{option}': say it, or choose it in the window with --gui."
                ).format(option=option)
            )
            raise typer.Exit(int(ExitCode.USAGE))
    assert to is not None and type_name is not None
    from koppel.agent import timings
    from koppel.agent.output import print_json
    from koppel.agent.submitting import submit as do_submit

    timings.mark("start-up")  # until the command's code is loaded

    with reporting(json_output):
        outcome = do_submit(
            files,
            destination=to,
            type_name=type_name,
            subject=subject,
            env=env,
            transfers=transfers,
        )
        for earlier in outcome.earlier:
            note(
                _("Queued submission {id}: {state}. {message}").format(
                    id=earlier.id[:8], state=earlier.state, message=earlier.message
                )
            )
        if json_output:
            print_json(outcome.as_json())
        result = outcome.result
        if result.state == "sent":
            if not json_output and result.item:
                typer.echo(str(result.item["id"]))
            note(result.message)
        elif result.state == "failed":
            note(
                _("Submission {id} was refused: {message}").format(
                    id=result.id[:8], message=result.message
                )
            )
            note(
                _("It stays in the queue; `koppel queue cancel {id}` removes it.").format(
                    id=result.id[:8]
                )
            )
        else:
            note(result.message)
        code = _exit_for([result])
        if code:
            raise typer.Exit(code)


@queue_app.callback()
def queue_list(ctx: typer.Context, json_output: JsonOption = False) -> None:
    if ctx.invoked_subcommand is not None:
        return
    from koppel.agent.local import queue
    from koppel.agent.output import print_json, print_table

    with reporting(json_output):
        found = queue.load_all()
        if json_output:
            print_json([s.summary() for s in found])
            return
        if not found:
            note(_("The queue is empty."))
            return
        print_table(
            (
                _("ID"),
                _("ENVIRONMENT"),
                _("CREATED"),
                _("STATE"),
                _("FILES"),
                _("SUBJECT"),
                _("PROBLEM"),
            ),
            [
                (
                    s.id[:8],
                    s.environment,
                    s.created,
                    s.state,
                    _("{sent}/{total} sent").format(
                        sent=sum(f.state == "uploaded" for f in s.files), total=len(s.files)
                    ),
                    s.subject,
                    (s.error or {}).get("message", ""),
                )
                for s in found
            ],
        )


@queue_app.command("send")
@usage(
    _("Send every queued submission now (refused ones are tried again too)."),
    "koppel queue send --transfers 2",
)
def queue_send(
    json_output: JsonOption = False, transfers: TransfersOption = DEFAULT_TRANSFERS
) -> None:
    from koppel.agent.output import print_json
    from koppel.agent.sending import send_pending

    with reporting(json_output):
        results = send_pending(include_failed=True, transfers=transfers)
        if json_output:
            print_json([r.as_json() for r in results])
        elif not results:
            note(_("The queue is empty."))
        for result in results:
            note(
                _("{id} ({environment}): {state}. {message}").format(
                    id=result.id[:8],
                    environment=result.environment,
                    state=result.state,
                    message=result.message,
                )
            )
        code = _exit_for(results)
        if code:
            raise typer.Exit(code)


@queue_app.command("cancel")
@usage(
    _("Remove a submission from the queue and delete its partial uploads on the server."),
    "koppel queue cancel 3f2a9c1e",
)
def queue_cancel(
    ident: Annotated[
        str,
        typer.Argument(metavar="ID", help=_("The submission id (or its first characters).")),
    ],
    json_output: JsonOption = False,
) -> None:
    from koppel.agent.output import print_json
    from koppel.agent.sending import cancel

    with reporting(json_output):
        submission, told = cancel(ident)
        if json_output:
            print_json({"cancelled": submission.id, "server_told": told})
        note(
            (
                _("Cancelled submission {id}.")
                if told
                else _(
                    "Cancelled submission {id}; its partial uploads on the server expire "
                    "by themselves."
                )
            ).format(id=submission.id[:8])
        )
