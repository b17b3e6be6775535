"""Which linked environment a command acts on: ``--env``, the only one linked, or the
user's choice at a terminal. Without a terminal an ambiguous choice is refused with the
codes to choose from (a script must say which)."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from koppel.agent.environments import find, token_of
from koppel.agent.errors import AgentError
from koppel.agent.exit_codes import ExitCode
from koppel.agent.local import state as state_mod
from koppel.agent.local.state import LinkedEnv
from koppel.agent.output import note
from koppel.i18n import gettext as _


@dataclass(frozen=True)
class Target:
    """A linked environment with its token."""

    env: LinkedEnv
    token: str


def _interactive() -> bool:
    try:
        return sys.stdin.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def choose(code: str | None) -> Target:
    """The environment named by ``--env`` or implied; NotLinked, or a refusal listing the
    choices when several are linked and nobody can be asked."""
    if code:
        state, env = find(code)
        return Target(env, token_of(state, env))
    loaded = state_mod.read()
    for message in loaded.notes:
        note(message)
    state = loaded.state
    codes = sorted(state.environments)
    if not codes:
        raise AgentError(
            _("No environment is linked yet. Link one with `koppel link FILE`."),
            ExitCode.NOT_LINKED,
        )
    if len(codes) == 1:
        env = state.environments[codes[0]]
        return Target(env, token_of(state, env))
    if not _interactive():
        raise AgentError(
            _("Several environments are linked ({codes}); say which with --env CODE.").format(
                codes=", ".join(codes)
            ),
            ExitCode.USAGE,
        )
    import typer

    for number, each in enumerate(codes, start=1):
        env = state.environments[each]
        typer.echo(f"  {number}. {env.code}  {env.name}", err=True)
    answer = typer.prompt(_("Environment (number or code)"), err=True).strip()
    picked = codes[int(answer) - 1] if answer.isdigit() and 0 < int(answer) <= len(codes) else None
    picked = picked or next((c for c in codes if c.upper() == answer.upper()), None)
    if picked is None:
        raise AgentError(
            _("{answer} is none of {codes}.").format(answer=repr(answer), codes=", ".join(codes)),
            ExitCode.USAGE,
        )
    env = state.environments[picked]
    return Target(env, token_of(state, env))
