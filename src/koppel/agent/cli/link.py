"""``koppel link``, ``koppel unlink`` and ``koppel info``: a workstation's links."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from koppel.agent.cli.common import JsonOption, reporting
from koppel.agent.output import note, print_json, print_table
from koppel.protocol.counts import counted


def link(
    files: Annotated[
        list[Path],
        typer.Argument(help="Settings files (*.koppel) or bundles saved from your environments."),
    ],
    workstation_name: Annotated[
        str | None,
        typer.Option(
            "--workstation-name",
            envvar="KOPPEL_WORKSTATION_NAME",
            help="The name administrators see for this workstation (default: host name).",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Link the environments of settings files and bundles: all of them, or none.

    Every environment must be on this agent's update (and the same as those already
    linked). Linking an environment again replaces its previous link from this workstation.

    The clients a bundle left out are listed after the result, each with the reason and
    who must act (`skipped` in --json). The command still exits 0 when it linked
    something; a bundle without any client is refused (exit 8, with the reasons).
    """
    with reporting(json_output):
        from koppel.agent.linking import link_files

        result = link_files(files, workstation_name)
        for message in result.notes:
            note(message)
        if json_output:
            print_json(result.as_json())
            return
        replaced = set(result.replaced)
        print_table(
            ("CODE", "NAME", "KIND", "UPDATE", "USER", "SERVER", "RESULT"),
            [
                (
                    e.code,
                    e.name,
                    e.kind,
                    e.update,
                    e.login,
                    e.api_url,
                    "replaced" if e.code in replaced else "linked",
                )
                for e in result.linked
            ],
        )
        note(f"Linked {counted(len(result.linked), 'environment')} ({len(replaced)} replaced).")
        if result.skipped:
            from koppel.agent.skipped import report

            note(report(result.skipped))


def unlink(
    environment: Annotated[str, typer.Argument(help="The code of a linked environment.")],
    json_output: JsonOption = False,
) -> None:
    """Revoke the environment's token on its server and forget it on this workstation.

    When the server cannot be reached (or already revoked the token) the environment is
    still forgotten here; ask its administrator to revoke the token on the server.
    """
    with reporting(json_output):
        from koppel.agent.environments import unlink as do_unlink

        result = do_unlink(environment)
        if json_output:
            print_json(result.as_json())
        if result.server_revoked:
            note(f"Unlinked {result.code}: its token is revoked and it is forgotten here.")
        elif result.token_unusable:
            note(
                f"Forgot {result.code} on this workstation; {result.server} no longer accepted "
                "its token, so nothing is left to revoke there."
            )
        else:
            note(
                f"Forgot {result.code} on this workstation, but its token on {result.server} "
                f"could not be revoked ({result.reason}). Ask the administrator of "
                f"{result.code} to revoke the token of this workstation."
            )


def info(
    environment: Annotated[str, typer.Argument(help="The code of a linked environment.")],
    json_output: JsonOption = False,
) -> None:
    """Show who this link is in the environment and what it may do (asks the server)."""
    with reporting(json_output):
        from koppel.agent.environments import info as do_info

        data = do_info(environment)
        if json_output:
            print_json(data)
            return
        workstation = data["workstation"]
        lines = [
            ("Environment", f"{data['environment']} - {data['environment_name']}"),
            ("Update", data["update"]),
            ("User", f"{data['login']} ({data['display_name']})"),
            ("Workstation", f"{workstation['name']} ({workstation['id']})"),
            ("Server", data["server"]),
            ("Token", f"created {data['token_created']}, kept in {data['token_store']}"),
            ("Functions", "\n".join(data["functions"]) or "(none)"),
        ]
        for label, value in lines:
            first, *rest = str(value).splitlines() or [""]
            typer.echo(f"{label + ':':<13}{first}")
            for more in rest:
                typer.echo(f"{'':<13}{more}")
