"""``koppel settings download`` and ``koppel installation download``: "Save settings"
and "Save installation" from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from koppel.agent.cli.common import EnvOption, JsonOption, described, note, reporting, usage
from koppel.agent.output import print_json
from koppel.i18n import gettext as _
from koppel.i18n import ngettext

_SETTINGS_EXAMPLE = "koppel settings download --server https://koppel.example.com --env F10001"
_INSTALLATION_EXAMPLE = (
    "koppel installation download --server https://koppel.example.com --env F10001 -o ."
)
settings_app = typer.Typer(
    help=described(
        _('"Save settings": download a settings file to link an environment with.'),
        _SETTINGS_EXAMPLE,
    ),
    no_args_is_help=True,
)
installation_app = typer.Typer(
    help=described(
        _('"Save installation": download the agent of an environment\'s update.'),
        _INSTALLATION_EXAMPLE,
    ),
    no_args_is_help=True,
)


ServerOption = Annotated[
    str,
    typer.Option("--server", help=_("The server address, e.g. https://koppel.example.com.")),
]
LoginOption = Annotated[
    str | None,
    typer.Option(
        "--login",
        help=_(
            "For scripts: your login, with the password in KOPPEL_PASSWORD or on standard "
            "input (--password-stdin). Without a password you approve in the browser."
        ),
    ),
]
PasswordStdinOption = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help=_("For scripts: read the password from the first line of standard input."),
    ),
]
NoBrowserOption = Annotated[
    bool,
    typer.Option("--no-browser", help=_("Only show the address and code; open no browser.")),
]
_APPROVAL = _(
    "Without a password, Koppel shows a code and opens the server's device page: sign "
    "in there (with your second factor, if you use one) and approve. Koppel never sees "
    "your password. Scripts give --login with KOPPEL_PASSWORD or --password-stdin; an "
    "account with two-step verification must approve in the browser."
)


@settings_app.command("download")
@usage(
    _(
        "Save the settings of an environment (or a firm's bundle) to link it with `koppel "
        "link`. A bundle names every client it left out, with the reason and who must act "
        "(`skipped` in --json); it is still saved (exit 0) when it holds any client, and "
        "refused (exit 7) when it holds none."
    )
    + "\n\n"
    + _APPROVAL,
    _SETTINGS_EXAMPLE,
    "koppel settings download --server https://koppel.example.com --env F10001 --bundle",
)
def settings_download(
    server: ServerOption,
    env: EnvOption,
    login: LoginOption = None,
    password_stdin: PasswordStdinOption = False,
    bundle: Annotated[
        bool,
        typer.Option(
            "--bundle", help=_("The firm's bundle: the settings of every client you may link.")
        ),
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help=_("File or folder (default: ./CODE.koppel, or FIRM-clients.koppel for a bundle)."),
        ),
    ] = None,
    no_browser: NoBrowserOption = False,
    json_output: JsonOption = False,
) -> None:
    with reporting(json_output):
        from koppel.agent.approval import workstation_label
        from koppel.agent.settings_download import download_settings, script_password
        from koppel.agent.skipped import as_json, report

        saved = download_settings(
            server, env, login, script_password(password_stdin), bundle=bundle, output=output,
            workstation=workstation_label(), say=note, open_browser=not no_browser,
        )  # fmt: skip
        if json_output:
            print_json(
                {
                    "file": str(saved.file),
                    "environments": saved.environments,
                    "skipped": as_json(saved.skipped),
                }
            )
        else:
            typer.echo(str(saved.file))
            note(
                ngettext(
                    "Saved the settings of {count} environment. Link within the enrollment's "
                    "validity: koppel link {file}",
                    "Saved the settings of {count} environments. Link within the "
                    "enrollment's validity: koppel link {file}",
                    saved.environments,
                ).format(count=saved.environments, file=saved.file)
            )
            if saved.skipped:
                note(report(saved.skipped))


@installation_app.command("download")
@usage(
    _("Save the installation: the agent package of the environment's update.") + "\n\n" + _APPROVAL,
    _INSTALLATION_EXAMPLE,
)
def installation_download(
    server: ServerOption,
    env: EnvOption,
    login: LoginOption = None,
    password_stdin: PasswordStdinOption = False,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help=_("The folder to save the wheel in (default: .).")),
    ] = None,
    no_browser: NoBrowserOption = False,
    json_output: JsonOption = False,
) -> None:
    with reporting(json_output):
        from koppel.agent.approval import workstation_label
        from koppel.agent.settings_download import download_installation, script_password

        target = download_installation(
            server, env, login, script_password(password_stdin), output,
            workstation=workstation_label(), say=note, open_browser=not no_browser,
        )  # fmt: skip
        if json_output:
            print_json({"file": str(target), "install": f"pip install {target}"})
        else:
            typer.echo(str(target))
            note(_("Install it with: {command}").format(command=f"pip install {target}"))
