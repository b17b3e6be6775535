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
from koppel.i18n import gettext as _

# Stands for "any server" when none is linked: which proxy an https server would get.
ANY_SERVER = "https://server.invalid"


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
    code, login = env.code, env.login
    relink = _("save the settings for {env} again and run `koppel link FILE`").format(env=code)
    if state == "ok":
        return ""
    if state == "unreachable":
        return _(
            "check the network connection and that {url} is the right address for {code} "
            "(ask the administrator for its API URL)"
        ).format(url=env.api_url, code=code)
    if state == "token_revoked":
        return _(
            "access to {code} was revoked by its administrator (or replaced by a newer "
            "link, or expired): {relink}"
        ).format(code=code, relink=relink)
    if state == "token_invalid":
        return _(
            "the server does not accept this link (its token is unknown there, or {code} "
            "was removed): {relink}; if {code} no longer exists, forget it with "
            "`koppel unlink {code}`"
        ).format(code=code, relink=relink)
    if state == "token_missing":
        return _(
            "the token of {code} is missing from this workstation's token store: {relink}"
        ).format(code=code, relink=relink)
    if state == "token_wrong_environment":
        return _("the token belongs elsewhere: {relink}").format(relink=relink)
    if state == "update_mismatch":
        return _(
            "{code} is on update {update} and this agent on update {agent_update}: if all "
            "your linked environments are on that update, install its agent (ask the "
            "administrator for it); otherwise ask the administrator to convert the "
            "environments behind, each firm with its clients; your links are kept"
        ).format(code=code, update=update or _("(another update)"), agent_update=AGENT_UPDATE_TEXT)
    if state == "update_unsupported":
        return _(
            "the server no longer hosts update {agent_update}; install the agent of the "
            'environment\'s update ("Save installation"); your links are kept'
        ).format(agent_update=AGENT_UPDATE_TEXT)
    if state == "connector_blocked":
        return _(
            "ask the administrator of {code} to unblock the Communication Center app "
            "connector (General/Management/App connector)"
        ).format(code=code)
    if state == "not_authorized":
        return _(
            "ask the administrator of {code} to authorize {login} for the missing functions"
        ).format(code=code, login=login)
    if state == "account_disabled":
        return _("your account {login} is disabled; ask the administrator").format(login=login)
    if state == "not_a_member":
        return _(
            "{login} is no longer a user of {code}; ask the administrator to add you again, "
            "then link it again"
        ).format(login=login, code=code)
    if state == "unknown_environment":
        return _(
            "the server no longer knows {code}: ask the administrator, or forget it with "
            "`koppel unlink {code}`"
        ).format(code=code)
    return _("ask the administrator of the environment")


def diagnose(outcome: Outcome) -> Finding:
    """Turn what the server (or the network) said about one link into a finding."""
    env = outcome.env
    server = outcome.server
    if outcome.token_lost:
        state = "token_missing"
        return Finding(env.code, server, state, _("no token stored for it"), fix_for(state, env))
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
            env.code, server, state, _("the server did not report on it"), fix_for(state, env)
        )
    state = str(status.state)
    message = status.message
    if state == "ok" and status.connector_blocked:
        state, message = "connector_blocked", message or _("the app connector is blocked")
    if state == "ok" and status.missing_functions:
        state = "not_authorized"
    if state == "ok" and status.update and status.update != AGENT_UPDATE_TEXT:
        state = "update_mismatch"
    if state == "not_authorized" and status.missing_functions:
        missing = ", ".join(status.missing_functions)
        message = message or _("not authorized for {functions}").format(functions=missing)
        fix = fix_for(state, env) + f": {missing}"
    else:
        fix = fix_for(state, env, status.update)
    if state == "update_mismatch" and not message:
        message = _("{code} is on update {update}, this agent on update {agent_update}").format(
            code=env.code, update=status.update, agent_update=AGENT_UPDATE_TEXT
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
            finding.message = _(
                "{code} is on update {update}, this agent on {agent_update}"
            ).format(code=p.code, update=p.update, agent_update=AGENT_UPDATE_TEXT)
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
