"""``koppel-admin`` run in this process (Click's test runner over the real Typer app): the
same arguments, environment, output and exit code as the executable, without paying a
Python start-up per arrange step. Tests of the command line's own behaviour (its
process, its signals, its encoding) keep the real executable (``Server.admin``)."""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import click
from click.testing import CliRunner

from harness import Result


@contextmanager
def _environment(env: Mapping[str, str], cwd: Path) -> Iterator[None]:
    """``env`` as the whole KOPPEL_* environment and ``cwd`` as the working folder, for
    the length of one command (the runner only adds variables; a command must not see
    KOPPEL_* of another server)."""
    saved_env = {k: v for k, v in os.environ.items() if k.startswith("KOPPEL_")}
    saved_cwd = Path.cwd()
    for key in saved_env:
        del os.environ[key]
    try:
        os.chdir(cwd)
        yield
    finally:
        os.chdir(saved_cwd)
        for key in [k for k in os.environ if k.startswith("KOPPEL_")]:
            del os.environ[key]
        os.environ.update(saved_env)


@cache
def _command() -> click.Command:
    """koppel-admin's Click command, built from the Typer app once per test process
    (Typer builds it anew on every invocation: half the cost of a short command)."""
    import typer

    from koppel.server.adapters.cli.admin.app import app

    return typer.main.get_command(app)


def run_admin(env: Mapping[str, str], cwd: Path, *args: str, stdin: str | None = None) -> Result:
    """Run ``koppel-admin ARGS`` in process with the ``KOPPEL_*`` variables of ``env``."""
    koppel_env = {k: v for k, v in env.items() if k.startswith("KOPPEL_")}
    with _environment(koppel_env, cwd):
        outcome = CliRunner().invoke(
            _command(), list(args), input=stdin, env=koppel_env, prog_name="koppel-admin"
        )
    stderr = outcome.stderr
    if outcome.exception is not None and not isinstance(outcome.exception, SystemExit):
        # What the executable would print: an unexpected error's traceback, exit code 1.
        stderr += "".join(traceback.format_exception(outcome.exception))
    return Result(["koppel-admin", *args], outcome.exit_code, outcome.stdout, stderr)
