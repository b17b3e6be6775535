"""The ``koppel`` Typer application: every command family, assembled.

Imported by ``koppel.agent.cli.main`` only when a command runs (``koppel --version`` does
not need Typer at all).
"""

from __future__ import annotations

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
from koppel.agent.cli.light_coercion import install as convert_values_without_pydantic
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
convert_values_without_pydantic()

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

