"""The ``koppel`` command line: a thin layer over the agent's modules.

Each command imports what it needs when it runs, so that fast commands stay fast
(``koppel envs`` with 1,000 links does not load httpx, keyring or pydantic).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from koppel.agent.commands import edit as edit_command
from koppel.agent.commands import files as files_command
from koppel.agent.commands import items as items_command
from koppel.agent.commands import links as links_command
from koppel.agent.commands import submit as submit_command
from koppel.agent.commands.common import EnvOption, JsonOption, reporting
from koppel.agent.exit_codes import EPILOG, ExitCode
from koppel.agent.help_flags import install as show_flags_without_values
from koppel.agent.output import note, print_json, print_table
from koppel.agent.version import AGENT_UPDATE_TEXT, VERSION
from koppel.protocol.counts import counted

app = typer.Typer(
    name="koppel",
    help="Koppel agent: link this workstation to your environments and check the links.",
    epilog=EPILOG,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    add_completion=False,
)
settings_app = typer.Typer(
    help='"Save settings": download a settings file to link an environment with.',
    no_args_is_help=True,
)
installation_app = typer.Typer(
    help='"Save installation": download the agent of an environment\'s update.',
    no_args_is_help=True,
)
app.add_typer(settings_app, name="settings")
app.add_typer(installation_app, name="installation")

show_flags_without_values()


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"koppel {VERSION} (update {AGENT_UPDATE_TEXT})")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Show the version."
        ),
    ] = False,
) -> None:
    """Koppel agent: link this workstation to your environments and check the links."""


@app.command()
def version(json_output: JsonOption = False) -> None:
    """Show the agent's version and its update (the environments' update it works with)."""
    if json_output:
        print_json({"version": VERSION, "update": AGENT_UPDATE_TEXT})
    else:
        typer.echo(f"koppel {VERSION} (update {AGENT_UPDATE_TEXT})")


@app.command()
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


@app.command()
def envs(json_output: JsonOption = False) -> None:
    """List the linked environments: code, name, kind, update, user, server, last check."""
    with reporting(json_output):
        from koppel.agent import listing, state

        loaded = state.read()
        for message in loaded.notes:
            note(message)
        environments = sorted(loaded.state.environments.values(), key=lambda env: env.code)
        if json_output:
            print_json([listing.as_json(env) for env in environments])
        elif not environments:
            note("No environment is linked yet. Link one with `koppel link FILE`.")
        else:
            print_table(listing.HEADERS, [listing.row(env) for env in environments])


@app.command()
def unlink(
    environment: Annotated[str, typer.Argument(help="The code of a linked environment.")],
    json_output: JsonOption = False,
) -> None:
    """Revoke the environment's token on its server and forget it on this workstation.

    When the server cannot be reached (or already revoked the token) the environment is
    still forgotten here; ask its administrator to revoke the token on the server.
    """
    with reporting(json_output):
        from koppel.agent.environment import unlink as do_unlink

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


@app.command()
def doctor(
    env: Annotated[
        list[str] | None,
        typer.Option("--env", help="Check only this environment (repeatable)."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Check every linked environment and print the fix for each problem.

    Reachable server, token valid (not revoked), app connector open, authorizations
    present, same update as this agent. One request per server. Exits 3 on any problem.
    """
    with reporting(json_output):
        from koppel.agent import doctor as doctor_mod

        findings, notes = doctor_mod.run(env or None)
        for message in notes:
            note(message)
        problems = [finding for finding in findings if not finding.ok]
        if json_output:
            print_json(
                {
                    "ok": not problems,
                    "checked": len(findings),
                    "problems": len(problems),
                    "environments": [finding.as_json() for finding in findings],
                }
            )
        elif not findings:
            note("No environment is linked yet. Link one with `koppel link FILE`.")
        else:
            print_table(
                ("ENVIRONMENT", "STATE", "MESSAGE"),
                [(f.environment, f.state, f.message) for f in findings],
            )
            # One line per fix: a fix about updates concerns many environments at once.
            by_fix: dict[str, list[str]] = {}
            for finding in problems:
                by_fix.setdefault(finding.fix, []).append(finding.environment)
            for fix, codes in by_fix.items():
                more = f" and {len(codes) - 10} more" if len(codes) > 10 else ""
                note(f"{', '.join(codes[:10])}{more}: {fix}.")
            note(
                f"{len(findings) - len(problems)} of {counted(len(findings), 'environment')} ok"
                + (f", {len(problems)} with problems." if problems else ".")
            )
        if problems:
            raise typer.Exit(int(ExitCode.PROBLEMS))


@app.command()
def info(
    environment: Annotated[str, typer.Argument(help="The code of a linked environment.")],
    json_output: JsonOption = False,
) -> None:
    """Show who this link is in the environment and what it may do (asks the server)."""
    with reporting(json_output):
        from koppel.agent.environment import info as do_info

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


ServerOption = Annotated[
    str, typer.Option("--server", help="The server address, e.g. https://koppel.example.com.")
]
LoginOption = Annotated[
    str | None,
    typer.Option(
        "--login",
        help="For scripts: your login, with the password in KOPPEL_PASSWORD or on standard "
        "input (--password-stdin). Without a password you approve in the browser.",
    ),
]
PasswordStdinOption = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="For scripts: read the password from the first line of standard input.",
    ),
]
NoBrowserOption = Annotated[
    bool,
    typer.Option("--no-browser", help="Only show the address and code; open no browser."),
]
_APPROVAL = (
    "Without a password, Koppel shows a code and opens the server's device page: sign "
    "in there (with your second factor, if you use one) and approve. Koppel never sees "
    "your password. Scripts give --login with KOPPEL_PASSWORD or --password-stdin; an "
    "account with two-step verification must approve in the browser."
)


@settings_app.command("download", help=(
    "Save the settings of an environment (or a firm's bundle) to link it with `koppel "
    "link`. A bundle names every client it left out, with the reason and who must act "
    "(`skipped` in --json); it is still saved (exit 0) when it holds any client, and "
    f"refused (exit 7) when it holds none.\n\n{_APPROVAL}"
))  # fmt: skip
def settings_download(
    server: ServerOption,
    env: EnvOption,
    login: LoginOption = None,
    password_stdin: PasswordStdinOption = False,
    bundle: Annotated[
        bool,
        typer.Option(
            "--bundle", help="The firm's bundle: the settings of every client you may link."
        ),
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="File or folder (default: ./CODE.koppel, or FIRM-clients.koppel for a bundle).",
        ),
    ] = None,
    no_browser: NoBrowserOption = False,
    json_output: JsonOption = False,
) -> None:
    with reporting(json_output):
        from koppel.agent.device_flow import workstation_label
        from koppel.agent.downloads import download_settings, script_password
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
                f"Saved the settings of {counted(saved.environments, 'environment')}. Link "
                f"within the enrollment's validity: koppel link {saved.file}"
            )
            if saved.skipped:
                note(report(saved.skipped))


@installation_app.command("download", help=(
    f"Save the installation: the agent package of the environment's update.\n\n{_APPROVAL}"
))  # fmt: skip
def installation_download(
    server: ServerOption,
    env: EnvOption,
    login: LoginOption = None,
    password_stdin: PasswordStdinOption = False,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="The folder to save the wheel in (default: .)."),
    ] = None,
    no_browser: NoBrowserOption = False,
    json_output: JsonOption = False,
) -> None:
    with reporting(json_output):
        from koppel.agent.device_flow import workstation_label
        from koppel.agent.downloads import download_installation, script_password

        target = download_installation(
            server, env, login, script_password(password_stdin), output,
            workstation=workstation_label(), say=note, open_browser=not no_browser,
        )  # fmt: skip
        if json_output:
            print_json({"file": str(target), "install": f"pip install {target}"})
        else:
            typer.echo(str(target))
            note(f"Install it with: pip install {target}")


# Commands in modules of their own (koppel/agent/commands/): one line each.
app.command("items")(items_command.items)
app.command("open")(items_command.open_)
app.command("edit")(edit_command.edit)
app.command("submit")(submit_command.submit)
app.add_typer(submit_command.queue_app, name="queue")
app.add_typer(files_command.files_app, name="files")
app.add_typer(files_command.analyses_app, name="analyses")
app.command("watch")(files_command.watch)
app.add_typer(links_command.handler_app, name="handler")
app.command("open-link")(links_command.open_link)


def main() -> None:
    """Entry point of the ``koppel`` console script."""
    app()


if __name__ == "__main__":
    main()
