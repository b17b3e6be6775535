"""``koppel doctor``: check every linked environment and say how to fix each problem.

All environments of one server are checked with one POST /status; the answer also
refreshes each environment's recorded name and update.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from koppel.agent.api.proxy import ProxyChoice, choose
from koppel.agent.errors import ApiError, NotLinked, ServerUnreachable
from koppel.agent.link_status import Outcome, group_by_server, query, record
from koppel.agent.local import state as state_mod
from koppel.agent.local.state import LinkedEnv
from koppel.agent.local.token_store import TokenVault
from koppel.agent.update_picture import Placed, advice
from koppel.agent.version import AGENT_UPDATE_TEXT

# Stands for "any server" when none is linked: which proxy an https server would get.
ANY_SERVER = "https://server.invalid"
RELINK = "save the settings for {env} again and run `koppel link FILE`"


@dataclass
class Finding:
    """The verdict on one environment: ``ok`` or a problem with its fix."""

    environment: str
    server: str
    state: str
    message: str
    fix: str

    @property
    def ok(self) -> bool:
        """True when nothing needs fixing."""
        return self.state == "ok"

    def as_json(self) -> dict[str, Any]:
        """The finding as `--json` prints it."""
        return {
            "environment": self.environment,
            "server": self.server,
            "state": self.state,
            "message": self.message,
            "fix": self.fix,
        }


def fix_for(state: str, env: LinkedEnv, update: str | None = None) -> str:
    """The sentence that tells the user how to fix ``state`` for this environment."""
    code = env.code
    fixes = {
        "ok": "",
        "unreachable": (
            f"check the network connection and that {env.api_url} is the right address "
            f"for {code} (ask the administrator for its API URL)"
        ),
        "token_revoked": (
            f"access to {code} was revoked by its administrator (or replaced by a newer "
            f"link, or expired): {RELINK.format(env=code)}"
        ),
        "token_invalid": (
            f"the server does not accept this link (its token is unknown there, or {code} "
            f"was removed): {RELINK.format(env=code)}; if {code} no longer exists, forget it "
            f"with `koppel unlink {code}`"
        ),
        "token_missing": (
            f"the token of {code} is missing from this workstation's token store: "
            f"{RELINK.format(env=code)}"
        ),
        "token_wrong_environment": f"the token belongs elsewhere: {RELINK.format(env=code)}",
        "update_mismatch": (
            f"{code} is on update {update or '(another update)'} and this agent on update "
            f"{AGENT_UPDATE_TEXT}: if all your linked environments are on that update, "
            "install its agent (ask the administrator for it); otherwise ask the "
            "administrator to convert the environments behind, each firm with its clients; "
            "your links are kept"
        ),
        "update_unsupported": (
            f"the server no longer hosts update {AGENT_UPDATE_TEXT}; install the agent of "
            'the environment\'s update ("Save installation"); your links are kept'
        ),
        "connector_blocked": (
            f"ask the administrator of {code} to unblock the Communication Center app "
            "connector (General/Management/App connector)"
        ),
        "not_authorized": (
            f"ask the administrator of {code} to authorize {env.login} for the missing functions"
        ),
        "account_disabled": f"your account {env.login} is disabled; ask the administrator",
        "not_a_member": (
            f"{env.login} is no longer a user of {code}; ask the administrator to add you "
            "again, then link it again"
        ),
        "unknown_environment": (
            f"the server no longer knows {code}: ask the administrator, or forget it with "
            f"`koppel unlink {code}`"
        ),
    }
    return fixes.get(state, "ask the administrator of the environment")


def diagnose(outcome: Outcome) -> Finding:
    """Turn what the server (or the network) said about one link into a finding."""
    env = outcome.env
    server = outcome.server
    if outcome.token_lost:
        state = "token_missing"
        return Finding(env.code, server, state, "no token stored for it", fix_for(state, env))
    if outcome.error is not None:
        if isinstance(outcome.error, ServerUnreachable):
            state = "unreachable"
        elif isinstance(outcome.error, ApiError):
            state = outcome.error.code
        else:
            state = "error"
        return Finding(env.code, server, state, outcome.error.message, fix_for(state, env))
    status = outcome.status
    if status is None:
        state = "unknown_environment"
        return Finding(
            env.code, server, state, "the server did not report on it", fix_for(state, env)
        )
    state = str(status.state)
    message = status.message
    if state == "ok" and status.connector_blocked:
        state, message = "connector_blocked", message or "the app connector is blocked"
    if state == "ok" and status.missing_functions:
        state = "not_authorized"
    if state == "ok" and status.update and status.update != AGENT_UPDATE_TEXT:
        state = "update_mismatch"
    if state == "not_authorized" and status.missing_functions:
        missing = ", ".join(status.missing_functions)
        message = message or f"not authorized for {missing}"
        fix = fix_for(state, env) + f": {missing}"
    else:
        fix = fix_for(state, env, status.update)
    if state == "update_mismatch" and not message:
        message = (
            f"{env.code} is on update {status.update}, this agent on update {AGENT_UPDATE_TEXT}"
        )
    return Finding(env.code, server, state, message or "ok", fix)


def place_updates(findings: dict[str, Finding], outcomes: dict[str, Outcome]) -> None:
    """Reword the update findings from what every link's server said: one update for all
    (install its agent) or several (convert the environments behind, firms with clients)."""
    placed = [
        Placed(
            code,
            outcome.env.kind,
            outcome.status.update,
            outcome.server,
            outcome.status.firm,
            outcome.status.installation,
        )
        for code, outcome in outcomes.items()
        if outcome.status is not None and outcome.status.update
    ]
    fix = advice(placed, AGENT_UPDATE_TEXT)
    if fix is None:
        return
    for p in placed:
        finding = findings[p.code]
        if finding.state == "update_mismatch":
            finding.message = f"{p.code} is on update {p.update}, this agent on {AGENT_UPDATE_TEXT}"
            finding.fix = fix


def run(only: list[str] | None = None) -> tuple[list[Finding], list[str]]:
    """Check the linked environments (or ``only`` these); findings and notes to show."""
    loaded = state_mod.read()
    state = loaded.state
    notes = list(loaded.notes)
    if only:
        unknown = [code for code in only if code not in state.environments]
        if unknown:
            raise NotLinked(unknown[0])
    # Every link is asked about even with ``only``: whether to install an agent or to
    # convert depends on the updates of all of them.
    envs = list(state.environments.values())
    if not envs:
        return [], notes
    vault = TokenVault(state)
    outcomes = query(envs, vault.get_many(envs))
    notes.extend(vault.warnings)
    findings = {code: diagnose(outcome) for code, outcome in outcomes.items()}
    place_updates(findings, outcomes)
    with state_mod.locked() as again:
        for code, outcome in outcomes.items():
            env = again.state.environments.get(code)
            if env is not None:
                record(env, outcome, findings[code].state)
    shown = list(dict.fromkeys(only)) if only else [env.code for env in envs]
    return [findings[code] for code in shown], notes


def proxy_choices() -> list[ProxyChoice]:
    """The proxy each linked server is reached through (the agent's requests make the same
    choice); with nothing linked, the proxy an https server would get."""
    envs = state_mod.read().state.environments.values()
    servers = list(group_by_server(envs)) or [ANY_SERVER]
    return [choose(server) for server in servers]
