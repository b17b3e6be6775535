"""Commands on one linked environment (``info``, ``unlink``) and their shared error wording."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from koppel.agent.errors import TOKEN_CODES, AgentError, ApiError, NotLinked
from koppel.agent.exit_codes import ExitCode
from koppel.agent.local import state as state_mod
from koppel.agent.local.state import LinkedEnv
from koppel.agent.local.token_store import TokenVault
from koppel.agent.output import note
from koppel.i18n import gettext as _


def relink_hint(code: str) -> str:
    """How to link an environment again."""
    return _("To link it again: save the settings for {code} and run `koppel link FILE`.").format(
        code=code
    )


def explain(code: str, exc: AgentError) -> AgentError:
    """Reword a refusal of a command on ``code`` so that it says what happened and what to do."""
    if not isinstance(exc, ApiError):
        return exc
    if exc.code in TOKEN_CODES:
        said = exc.message.strip() or _(
            "Access to {code} was revoked by its administrator."
        ).format(code=code)
        if exc.code == "token_revoked" and code not in said:
            said = _("Access to {code} was revoked: {reason}").format(code=code, reason=said)
        if "koppel link" in said:
            return _reworded(exc, said)  # the server already said how to link again
        return _reworded(exc, f"{said.rstrip('.')}. {relink_hint(code)}")
    if exc.code in ("update_mismatch", "update_unsupported"):
        # The server's message already says what to do for the environment's firm and its
        # clients; only `koppel doctor` sees every link of this workstation.
        return _reworded(
            exc,
            exc.message.rstrip(".")
            + ". "
            + _(
                "`koppel doctor` shows the update of every linked environment and says "
                "whether to install another agent or to ask the administrator to convert "
                "the environments behind."
            ),
        )
    return exc


def _reworded(exc: ApiError, message: str) -> ApiError:
    reworded = ApiError(
        exc.code, message, environment=exc.environment, details=exc.details, status=exc.status
    )
    return reworded


def find(code: str) -> tuple[state_mod.State, LinkedEnv]:
    """The state and the linked environment ``code``; NotLinked when it is not linked."""
    loaded = state_mod.read()
    for message in loaded.notes:
        note(message)
    state = loaded.state
    env = state.environments.get(code) or state.environments.get(code.upper())
    if env is None:
        raise NotLinked(code)
    return state, env


def token_of(state: state_mod.State, env: LinkedEnv) -> str:
    """The environment's token; a token_missing error when the store lost it."""
    token = TokenVault(state).get(env)
    if not token:
        raise AgentError(
            _("The token of {code} is missing from this workstation's token store.").format(
                code=env.code
            )
            + " "
            + relink_hint(env.code),
            ExitCode.TOKEN_REVOKED,
        )
    return token


def _remember(code: str, last_state: str) -> None:
    with state_mod.locked() as loaded:
        env = loaded.state.environments.get(code)
        if env is not None:
            env.last_check = state_mod.now_iso()
            env.last_state = last_state


def info(code: str) -> dict[str, Any]:
    """GET /me for a linked environment: who this link is and what it may do."""
    from koppel.agent.api import AgentClient

    state, env = find(code)
    token = token_of(state, env)
    try:
        with AgentClient(env.api_url) as client:
            me = client.me(env.code, token)
    except ApiError as exc:
        _remember(env.code, exc.code)
        raise explain(env.code, exc) from exc
    _remember(env.code, "ok")
    data = me.model_dump(mode="json")
    data["server"] = env.api_url
    data["kind"] = env.kind
    data["token_store"] = env.token_store
    return data


@dataclass
class Unlinked:
    """What unlink did: always forgotten locally; revoked on the server when it could be."""

    code: str
    server: str
    server_revoked: bool
    reason: str = ""
    # The server no longer accepted the token (revoked, or unknown: the environment may
    # have been removed): nothing is left for an administrator to revoke.
    token_unusable: bool = False

    def as_json(self) -> dict[str, Any]:
        """The result as `--json` prints it."""
        return {
            "environment": self.code,
            "server": self.server,
            "forgotten": True,
            "server_revoked": self.server_revoked,
            "reason": self.reason,
            "token_unusable": self.token_unusable,
        }


def unlink(code: str) -> Unlinked:
    """Revoke the token on the server where possible, then forget the environment here."""
    from koppel.agent.api import AgentClient

    state, env = find(code)
    vault = TokenVault(state)
    token = vault.get(env)
    result = Unlinked(env.code, env.api_url, server_revoked=False)
    if not token:
        result.reason = _("its token was already missing on this workstation")
    else:
        # Forgotten locally whatever the server says: the user asked for it, and the token
        # is useless here once gone; the administrator can revoke it on the server.
        try:
            with AgentClient(env.api_url) as client:
                client.unlink(env.code, token)
            result.server_revoked = True
        except ApiError as exc:
            result.reason = exc.message.rstrip(".")
            result.token_unusable = exc.code in TOKEN_CODES
        except AgentError as exc:
            result.reason = exc.message.rstrip(".")
    with state_mod.locked() as loaded:
        gone = loaded.state.environments.pop(env.code, None)
        TokenVault(loaded.state).delete_many([gone or env])
    return result
