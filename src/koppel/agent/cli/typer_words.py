"""Typer's own words in ``koppel``'s help and errors, in the user's language.

Typer (0.29) writes the headings of its help panels ("Options", "Commands"), "Usage:",
the ``--help`` option's text and the title of its error box from constants of
``typer.rich_utils`` and ``typer.core``, in English. They are set here to the translations
just before a help page or an error is drawn (``rich_utils`` loads Rich, so it is not
imported before it is needed). The wording of Click's own errors ("Invalid value for
'--limit'") stays English: ``cli/usage_errors.py`` puts a translated sentence before it.
"""

from __future__ import annotations

from typing import Any

from koppel.i18n import gettext as _

_installed = [False]


def translate_rich_words() -> None:
    """Set ``typer.rich_utils``'s words to the user's language (idempotent)."""
    from typer import rich_utils

    rich_utils.ARGUMENTS_PANEL_TITLE = _("Arguments")
    rich_utils.OPTIONS_PANEL_TITLE = _("Options")
    rich_utils.COMMANDS_PANEL_TITLE = _("Commands")
    rich_utils.ERRORS_PANEL_TITLE = _("Error")
    rich_utils.ABORTED_TEXT = _("Aborted.")
    rich_utils.RICH_HELP = _("Try [blue]'{command_path} {help_option}'[/] for help.")
    rich_utils.DEFAULT_STRING = _("[default: {}]")
    rich_utils.ENVVAR_STRING = _("[env var: {}]")
    rich_utils.REQUIRED_LONG_STRING = _("[required]")
    rich_utils.DEPRECATED_STRING = _("(deprecated) ")


def install() -> None:
    """Translate the ``--help`` option, "Usage:" and the help panels of every command of
    this process (idempotent; does nothing when Typer's parts it needs are missing)."""
    if _installed[0]:
        return
    try:
        from typer import core
    except ImportError:
        return
    for kind_name in ("TyperCommand", "TyperGroup"):
        kind = getattr(core, kind_name, None)
        if kind is None or not hasattr(kind, "format_help"):
            continue
        _wrap_help(kind)
    _installed[0] = True


def _wrap_help(kind: Any) -> None:
    original_format_help = kind.format_help
    original_help_option = kind.get_help_option

    def format_help(self: Any, ctx: Any, formatter: Any) -> Any:
        translate_rich_words()
        for param in getattr(self, "params", []):
            # Typer's own shell-completion options of the root command.
            if param.name == "install_completion":
                param.help = _("Install completion for the current shell.")
            elif param.name == "show_completion":
                param.help = _(
                    "Show completion for the current shell, to copy it or customize the "
                    "installation."
                )
        return original_format_help(self, ctx, formatter)

    def format_usage(self: Any, ctx: Any, formatter: Any) -> None:
        # Click's placeholders for "options here" and "a command here", in the language.
        words = {"[OPTIONS]": _("[OPTIONS]"), "COMMAND [ARGS]...": _("COMMAND [ARGS]...")}
        pieces = [words.get(piece, piece) for piece in self.collect_usage_pieces(ctx)]
        formatter.write_usage(ctx.command_path, " ".join(pieces), prefix=_("Usage:") + " ")

    def get_help_option(self: Any, ctx: Any) -> Any:
        option = original_help_option(self, ctx)
        if option is not None:
            option.help = _("Show this message and exit.")
        return option

    setattr(kind, "format_help", format_help)  # noqa: B010
    setattr(kind, "get_help_option", get_help_option)  # noqa: B010
    if hasattr(kind, "collect_usage_pieces"):
        setattr(kind, "format_usage", format_usage)  # noqa: B010
