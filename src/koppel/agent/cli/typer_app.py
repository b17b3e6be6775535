"""The ``koppel`` Typer application: every command family, assembled.

Imported by ``koppel.agent.cli.main`` only when a command runs (``koppel --version`` does
not need Typer at all).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

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
from koppel.agent.cli.epilog import exit_codes_epilog
from koppel.agent.cli.help_flags import install as show_flags_without_values
from koppel.agent.cli.light_coercion import install as convert_values_without_pydantic
from koppel.agent.cli.typer_words import install as speak_the_users_language
from koppel.i18n import gettext as _

show_flags_without_values()
convert_values_without_pydantic()
speak_the_users_language()

# Every command and command family, in the order ``koppel --help`` lists them: a function
# is a command, a Typer a family.
COMMANDS: tuple[tuple[str, Callable[..., Any] | typer.Typer], ...] = (
    ("version", root_commands.version),
    ("link", link_commands.link),
    ("envs", envs_commands.envs),
    ("unlink", link_commands.unlink),
    ("doctor", doctor_commands.doctor),
    ("info", link_commands.info),
    ("settings", settings_commands.settings_app),
    ("installation", settings_commands.installation_app),
    ("items", items_commands.items),
    ("open", items_commands.open_),
    ("edit", edit_commands.edit),
    ("submit", submit_commands.submit),
    ("queue", submit_commands.queue_app),
    ("files", my_files_commands.my_files_app),
    ("analyses", my_files_commands.analyses_app),
    ("watch", watch_commands.watch),
    ("agent", agent_commands.agent_app),
    ("handler", url_link_commands.handler_app),
    ("open-link", url_link_commands.open_link),
    ("integrate", integrate_commands.integrate_app),
    ("update", update_commands.update_app),
    ("autostart", autostart_commands.autostart_app),
    ("tray", desktop_commands.tray),
)
_NAMES = {name for name, _ in COMMANDS}


def build(only: str | None = None) -> typer.Typer:
    """The ``koppel`` application with every command, or with only the command ``only``
    (the same root options and help)."""
    built = typer.Typer(
        name="koppel",
        help=_("Koppel agent: link this workstation to your environments and check the links.")
        + "\n\n"
        + _("Shell completion: `koppel --install-completion` (bash, zsh, fish, PowerShell)."),
        epilog=exit_codes_epilog(),
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode="markdown",
        # Shell completion (--install-completion, --show-completion) belongs to the whole
        # application: a single command's is built only to run that command.
        add_completion=only is None,
    )
    built.callback()(root_commands.main_options)
    for name, command in COMMANDS:
        if only is not None and name != only:
            continue
        if isinstance(command, typer.Typer):
            built.add_typer(command, name=name)
        else:
            built.command(name)(command)
    return built


app = build()


def app_for(arguments: list[str]) -> typer.Typer:
    """The application to run these arguments: only the invoked command's, since Typer
    builds the parameters of every command it holds before it runs one (a sixth of
    ``koppel envs``); the whole one for ``koppel --help``, an unknown word and shell
    completion, which list every command."""
    completing = any(key.startswith("_KOPPEL") and key.endswith("_COMPLETE") for key in os.environ)
    if arguments and arguments[0] in _NAMES and not completing:
        return build(arguments[0])
    return app
