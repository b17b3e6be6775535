"""The ``koppel`` command line: a thin layer over the agent's use cases, one module per
family of commands, assembled in ``typer_app`` when a command runs.

Each command imports what it needs when it runs, so that fast commands stay fast
(``koppel envs`` with 1,000 links does not load httpx, keyring or pydantic).
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

from koppel.agent.cli.windowless import give_streams_when_windowless


def main() -> None:
    """Entry point of the ``koppel`` console script (and of the windowless ``koppelw``)."""
    give_streams_when_windowless()
    if sys.argv[1:] == ["--version"]:
        # The most common probe of an installation answers without loading Typer; the
        # same text as the ``--version`` option in cli/root.py.
        _print_version()
        return
    arguments = sys.argv[1:]
    _say_unknown_language(arguments)
    if _GLOBAL_FLAGS & set(arguments):
        # -q and -v are known before any command module is loaded: their notes go quiet.
        from koppel.agent.cli import verbosity

        arguments = verbosity.take_from(arguments)
        _tell_where()
    if os.environ.get("KOPPEL_TIMINGS"):
        # Every command writes the file; submit and open mark their phases in it.
        from koppel.agent import timings  # noqa: F401
    _skip_httpx_command_line()
    from koppel.agent.cli.typer_app import app_for

    _run(app_for(arguments), arguments)


def _say_unknown_language(arguments: list[str]) -> None:
    """A KOPPEL_LANG the agent does not speak falls back to English: say so once, in
    English, on stderr (not for scripts: --json, -q), so that a typo is not a mystery."""
    wanted = os.environ.get("KOPPEL_LANG", "").strip()
    if not wanted or {"--json", "-q", "--quiet"} & set(arguments):
        return
    from koppel.i18n import LANGUAGES, supported

    if supported(wanted) is None:
        sys.stderr.write(
            f"KOPPEL_LANG={wanted}: this language is not available; Koppel speaks "
            f"{', '.join(LANGUAGES)}. Continuing in English.\n"
        )


# -q/--quiet and -v/--verbose (cli/verbosity.py).
_GLOBAL_FLAGS = {"-q", "--quiet", "-v", "--verbose"}


def _run(app: Any, arguments: list[str]) -> NoReturn:
    """Run the application on ``arguments``; a wrong command line is said in plain words
    in the user's language with exit code 2 (``cli/usage_errors.py``), never a traceback."""
    import typer
    from typer._click.exceptions import ClickException

    command = typer.main.get_command(app)
    try:
        code = command.main(arguments, standalone_mode=False)
    except ClickException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            # ``koppel`` or a family alone: Typer has shown its help (exit code 2).
            raise SystemExit(exc.exit_code) from None
        from koppel.agent.cli.usage_errors import show

        options = arguments[: arguments.index("--")] if "--" in arguments else arguments
        raise SystemExit(show(exc, json_output="--json" in options)) from None
    except typer.Abort:
        from koppel.agent.exit_codes import ExitCode
        from koppel.agent.output import error
        from koppel.i18n import gettext as _

        error(_("Interrupted; nothing was changed."))
        raise SystemExit(int(ExitCode.INTERRUPTED)) from None
    raise SystemExit(code if isinstance(code, int) else 0)


def _tell_where() -> None:
    """With -v: which agent, which language and which data folder."""
    from koppel.agent.cli import verbosity

    if not verbosity.is_verbose():
        return
    from koppel.agent.local.paths import data_dir
    from koppel.agent.version import VERSION
    from koppel.i18n import current_language
    from koppel.i18n import gettext as _

    verbosity.detail(
        _("koppel {version}, language {language}, data folder {folder}").format(
            version=VERSION, language=current_language(), folder=data_dir()
        )
    )


def entry() -> NoReturn:
    """Entry point of the ``koppel`` and ``koppelw`` scripts: :func:`main`, then a quick
    exit. Once the command is done, Python's own teardown (freeing every module's objects
    one by one) takes some 50 ms after a download: more than the download's verification.
    The exit handlers (the timings file, logging) still run and the output is flushed;
    only the freeing, which the operating system does at once, is skipped."""
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = _exit_status(exc.code)
    verbosity = sys.modules.get("koppel.agent.cli.verbosity")
    if verbosity is not None and verbosity.is_verbose():
        from koppel.i18n import current_language
        from koppel.i18n import gettext as _

        seconds = f"{verbosity.elapsed():.2f}"
        if current_language() in ("nl", "fr"):
            seconds = seconds.replace(".", ",")  # their decimal comma, without Babel
        verbosity.detail(
            _("Done in {seconds} s (exit code {code}).").format(seconds=seconds, code=code)
        )
    _leave(code)


def _exit_status(code: object) -> int:
    """The process status ``sys.exit(code)`` gives (a text is printed, status 1)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")
    return 1


def _leave(code: int) -> NoReturn:
    """What Python's own exit does, in its order, without the freeing: wait for the
    threads that are not daemons (after telling thread pools to stop), run the exit
    handlers, flush the output."""
    import atexit

    threading = sys.modules.get("threading")
    if threading is not None:
        threading._shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: as Python itself does
            code = code or 120
    os._exit(code)


def _print_version() -> None:
    from koppel.agent.version import AGENT_UPDATE_TEXT, VERSION

    sys.stdout.write(f"koppel {VERSION} (update {AGENT_UPDATE_TEXT})\n")
    sys.stdout.flush()


def __getattr__(name: str) -> Any:
    """``koppel.agent.cli.app``: the Typer application, built on first use."""
    if name == "app":
        from koppel.agent.cli.typer_app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _skip_httpx_command_line() -> None:
    """Keep httpx from loading its own command line (rich, pygments, click: a third of
    the agent's start-up) when those happen to be installed: ``import httpx`` tries
    ``httpx._main`` and carries on without it when that import fails, which a ``None`` in
    ``sys.modules`` makes it do. Only the ``koppel`` process does this, never a library
    user's."""
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


if __name__ == "__main__":
    entry()
