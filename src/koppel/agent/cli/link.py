"""``koppel link``, ``koppel unlink`` and ``koppel info``: a workstation's links."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from koppel.agent.cli.common import JsonOption, note, reporting, usage
from koppel.agent.output import print_json, print_table
from koppel.agent.words import word
from koppel.i18n import gettext as _
from koppel.i18n import ngettext


@usage(
    _("Link the environments of settings files and bundles: all of them, or none.")
    + "\n\n"
    + _(
        "Every environment must be on this agent's update (and the same as those already "
        "linked). Linking an environment again replaces its previous link from this "
        "workstation."
    )
    + "\n\n"
    + _(
        "The clients a bundle left out are listed after the result, each with the reason "
        "and who must act (`skipped` in --json). The command still exits 0 when it linked "
        "something; a bundle without any client is refused (exit 8, with the reasons)."
    ),
    "koppel link F10001.koppel",
    "koppel link F10001-clients.koppel --workstation-name reception-pc --json",
)
def link(
    files: Annotated[
        list[Path],
        typer.Argument(
            metavar="FILES",
            help=_("Settings files (*.koppel) or bundles saved from your environments."),
        ),
    ],
    workstation_name: Annotated[
        str | None,
        typer.Option(
            "--workstation-name",
            envvar="KOPPEL_WORKSTATION_NAME",
            help=_("The name administrators see for this workstation (default: host name)."),
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
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
            (_("CODE"), _("NAME"), _("KIND"), _("UPDATE"), _("USER"), _("SERVER"), _("RESULT")),
            [
                (
                    e.code,
                    e.name,
                    word(e.kind),
                    e.update,
                    e.login,
                    e.api_url,
                    _("replaced") if e.code in replaced else _("linked"),
                )
                for e in result.linked
            ],
        )
        note(
            ngettext(
                "Linked {count} environment ({replaced} replaced).",
                "Linked {count} environments ({replaced} replaced).",
                len(result.linked),
            ).format(count=len(result.linked), replaced=len(replaced))
        )
        if result.skipped:
            from koppel.agent.skipped import report

            note(report(result.skipped))


@usage(
    _("Revoke the environment's token on its server and forget it on this workstation.")
    + "\n\n"
    + _(
        "When the server cannot be reached (or already revoked the token) the environment "
        "is still forgotten here; ask its administrator to revoke the token on the server."
    ),
    "koppel unlink C20001",
)
def unlink(
    environment: Annotated[
        str, typer.Argument(metavar="ENVIRONMENT", help=_("The code of a linked environment."))
    ],
    json_output: JsonOption = False,
) -> None:
    with reporting(json_output):
        from koppel.agent.environments import unlink as do_unlink

        result = do_unlink(environment)
        if json_output:
            print_json(result.as_json())
        if result.server_revoked:
            note(
                _("Unlinked {code}: its token is revoked and it is forgotten here.").format(
                    code=result.code
                )
            )
        elif result.token_unusable:
            note(
                _(
                    "Forgot {code} on this workstation; {server} no longer accepted its "
                    "token, so nothing is left to revoke there."
                ).format(code=result.code, server=result.server)
            )
        else:
            note(
                _(
                    "Forgot {code} on this workstation, but its token on {server} could not "
                    "be revoked ({reason}). Ask the administrator of {code} to revoke the "
                    "token of this workstation."
                ).format(code=result.code, server=result.server, reason=result.reason)
            )


@usage(
    _("Show who this link is in the environment and what it may do (asks the server)."),
    "koppel info F10001",
)
def info(
    environment: Annotated[
        str, typer.Argument(metavar="ENVIRONMENT", help=_("The code of a linked environment."))
    ],
    json_output: JsonOption = False,
) -> None:
    with reporting(json_output):
        from koppel.agent.environments import info as do_info

        data = do_info(environment)
        if json_output:
            print_json(data)
            return
        workstation = data["workstation"]
        lines = [
            (_("Environment"), f"{data['environment']} - {data['environment_name']}"),
            (_("Update"), data["update"]),
            (_("User"), f"{data['login']} ({data['display_name']})"),
            (_("Workstation"), f"{workstation['name']} ({workstation['id']})"),
            (_("Server"), data["server"]),
            (
                _("Token"),
                _("created {when}, kept in {store}").format(
                    when=_local(data["token_created"]), store=data["token_store"]
                ),
            ),
            (_("Functions"), "\n".join(data["functions"]) or _("(none)")),
        ]
        width = max(len(label) for label, _value in lines) + 2
        for label, value in lines:
            first, *rest = str(value).splitlines() or [""]
            typer.echo(f"{label + ':':<{width}}{first}")
            for more in rest:
                typer.echo(f"{'':<{width}}{more}")


def _local(iso: str) -> str:
    """A moment the server gave (ISO 8601), in this computer's zone as the language
    writes it (``--json`` keeps the ISO text)."""
    from datetime import datetime

    from koppel.i18n import LOCAL, format_when

    try:
        return format_when(datetime.fromisoformat(iso), LOCAL)
    except (TypeError, ValueError):  # not a moment: show it as it came
        return str(iso)
