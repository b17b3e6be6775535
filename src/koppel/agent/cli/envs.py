"""``koppel envs``: the linked environments, fast even with thousands of them.

Reads state.json only: no network, no keychain, no pydantic.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from koppel.agent.cli.common import JsonOption, note, reporting, usage
from koppel.agent.local.state import LinkedEnv
from koppel.agent.output import print_json, print_table
from koppel.agent.words import word
from koppel.i18n import N_, current_language
from koppel.i18n import gettext as _

HEADERS = (
    N_("CODE"),
    N_("NAME"),
    N_("KIND"),
    N_("UPDATE"),
    N_("USER"),
    N_("SERVER"),
    N_("LAST CHECK"),
)


# Dates as each language writes them, without Babel: `koppel envs` must start fast.
_DATE_FORMATS = {"nl": "%d-%m-%Y %H:%M", "fr": "%d/%m/%Y %H:%M"}


def local_when(iso: str) -> str:
    """A moment stored in ISO 8601 UTC, in this computer's time zone."""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:  # written by hand or by a future agent: show it as it is
        return iso
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    pattern = _DATE_FORMATS.get(current_language(), "%Y-%m-%d %H:%M")
    return moment.astimezone().strftime(pattern)


def row(env: LinkedEnv) -> tuple[str, ...]:
    """One table row."""
    last = _("never")
    if env.last_check:
        last = local_when(env.last_check)
        if env.last_state and env.last_state != "ok":
            last += f" ({word(env.last_state)})"
    return (env.code, env.name, word(env.kind), env.update, env.login, env.api_url, last)


def as_json(env: LinkedEnv) -> dict[str, Any]:
    """One environment as `koppel envs --json` lists it."""
    return {
        "code": env.code,
        "name": env.name,
        "kind": env.kind,
        "update": env.update,
        "login": env.login,
        "display_name": env.display_name,
        "server": env.api_url,
        "main_site_url": env.main_site_url,
        "token_store": env.token_store,
        "linked_at": env.linked_at,
        "last_check": env.last_check,
        "last_state": env.last_state,
    }


@usage(
    _("List the linked environments: code, name, kind, update, user, server, last check."),
    "koppel envs --json",
)
def envs(json_output: JsonOption = False) -> None:
    with reporting(json_output):
        from koppel.agent.local import state

        loaded = state.read()
        for message in loaded.notes:
            note(message)
        environments = sorted(loaded.state.environments.values(), key=lambda env: env.code)
        if json_output:
            print_json([as_json(env) for env in environments])
        elif not environments:
            note(_("No environment is linked yet. Link one with `koppel link FILE`."))
        else:
            print_table([_(h) for h in HEADERS], [row(env) for env in environments])
