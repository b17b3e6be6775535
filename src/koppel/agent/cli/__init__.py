"""The ``koppel`` command line: a thin layer over the agent's use cases, one module per
family of commands, assembled here.

Each command imports what it needs when it runs, so that fast commands stay fast
(``koppel envs`` with 1,000 links does not load httpx, keyring or pydantic).
"""

from __future__ import annotations

import sys

import typer

from koppel.agent.cli import agent as agent_commands
from koppel.agent.cli import autostart as autostart_commands
from koppel.agent.cli import desktop as desktop_commands
from koppel.agent.cli import doctor as doctor_commands
from koppel.agent.cli import edit as edit_commands
from koppel.agent.cli import envs as envs_commands
from koppel.agent.cli import integrate as integrate_commands
from koppel.agent.cli import items as items_commands
from koppel.agent.cli import link as link_commands
from koppel.agent.cli import my_files as my_files_commands
from koppel.agent.cli import root as root_commands
from koppel.agent.cli import settings as settings_commands
from koppel.agent.cli import submit as submit_commands
from koppel.agent.cli import update as update_commands
from koppel.agent.cli import url_links as url_link_commands
from koppel.agent.cli import watch as watch_commands
from koppel.agent.cli.help_flags import install as show_flags_without_values
from koppel.agent.cli.windowless import give_streams_when_windowless
from koppel.agent.exit_codes import EPILOG

app = typer.Typer(
    name="koppel",
    help="Koppel agent: link this workstation to your environments and check the links.",
    epilog=EPILOG,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    add_completion=False,
)
show_flags_without_values()

app.callback()(root_commands.main_options)
app.command("version")(root_commands.version)
app.command("link")(link_commands.link)
app.command("envs")(envs_commands.envs)
app.command("unlink")(link_commands.unlink)
app.command("doctor")(doctor_commands.doctor)
app.command("info")(link_commands.info)
app.add_typer(settings_commands.settings_app, name="settings")
app.add_typer(settings_commands.installation_app, name="installation")
app.command("items")(items_commands.items)
app.command("open")(items_commands.open_)
app.command("edit")(edit_commands.edit)
app.command("submit")(submit_commands.submit)
app.add_typer(submit_commands.queue_app, name="queue")
app.add_typer(my_files_commands.my_files_app, name="files")
app.add_typer(my_files_commands.analyses_app, name="analyses")
app.command("watch")(watch_commands.watch)
app.add_typer(agent_commands.agent_app, name="agent")
app.add_typer(url_link_commands.handler_app, name="handler")
app.command("open-link")(url_link_commands.open_link)
app.add_typer(integrate_commands.integrate_app, name="integrate")
app.add_typer(update_commands.update_app, name="update")
app.add_typer(autostart_commands.autostart_app, name="autostart")
app.command("tray")(desktop_commands.tray)


def main() -> None:
    """Entry point of the ``koppel`` console script (and of the windowless ``koppelw``)."""
    give_streams_when_windowless()
    _skip_httpx_command_line()
    app()


def _skip_httpx_command_line() -> None:
    """Keep httpx from loading its own command line (rich, pygments, click: a third of
    the agent's start-up) when those happen to be installed: ``import httpx`` tries
    ``httpx._main`` and carries on without it when that import fails, which a ``None`` in
    ``sys.modules`` makes it do. Only the ``koppel`` process does this, never a library
    user's."""
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
