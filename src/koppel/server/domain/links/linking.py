"""Linking a workstation: enrollment codes exchanged for user tokens, tokens checked on
every request, the status of many links at once, and unlinking."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from koppel.i18n import N_, ngettext
from koppel.i18n import gettext as _
from koppel.protocol.api import EnvironmentStatus, LinkedEnvironment, StatusQuery, Workstation
from koppel.protocol.errors import ErrorCode
from koppel.protocol.functions import LINK_FUNCTIONS, Function
from koppel.protocol.secrets import ENROLLMENT_PREFIX, TOKEN_PREFIX, new_secret, split_secret
from koppel.protocol.settings_file import SettingsFile, SettingsFileError, parse_settings
from koppel.server.domain.errors import DomainError
from koppel.server.domain.hashing import hash_secret, secret_matches, signature_valid
from koppel.server.domain.links.update_groups import Advisor
from koppel.server.domain.model import (
    ConnectorName,
    Environment,
    RevokeReason,
    TokenView,
    UserToken,
)
from koppel.server.domain.policy import Policy
from koppel.server.domain.repository import Repository

# Whole sentences marked with N_, translated in the request's language where they are used.
_REVOKED = {
    RevokeReason.ADMINISTRATOR: N_(
        "Access to {code} from this workstation was revoked by its administrator."
    ),
    RevokeReason.REPLACED: N_(
        "Access to {code} from this workstation was replaced by a newer link from this workstation."
    ),
    RevokeReason.UNLINKED: N_("Access to {code} from this workstation was unlinked from it."),
    RevokeReason.ENVIRONMENT_DELETED: N_(
        "Access to {code} from this workstation ended because the environment was removed."
    ),
    RevokeReason.USER: N_(
        "Access to {code} from this workstation was revoked by its user from the portal."
    ),
}
_REVOKED_OTHERWISE = N_("Access to {code} from this workstation was revoked.")


def _relink_hint(code: str) -> str:
    return _("To link it again, save the settings for {code} and run `koppel link FILE`.").format(
        code=code
    )


def _blocked(env: Environment) -> DomainError:
    return DomainError(
        ErrorCode.CONNECTOR_BLOCKED,
        _(
            "App connector is blocked: the Communication Center connector of {code} is "
            "blocked. Ask its administrator to unblock it."
        ).format(code=env.code),
        environment=env.code,
    )


def _refusal(code: ErrorCode, env: str, message: str) -> DomainError:
    return DomainError(code, message, environment=env)


def link(
    repo: Repository,
    policy: Policy,
    agent_update: str,
    workstation: Workstation,
    documents: Sequence[dict[str, Any]],
    dry_run: bool = False,
) -> list[LinkedEnvironment]:
    """Exchange the enrollment codes of ``documents`` for tokens: all, or none.

    Every document is checked before anything is written; the refusal lists each
    environment that failed. A link from a workstation replaces that workstation's
    previous token for the same user and environment.
    """
    key = repo.signing_key()
    problems: list[DomainError] = []
    parsed = []
    for index, document in enumerate(documents):
        label = (
            str(document.get("environment", {}).get("code", f"#{index + 1}"))
            if isinstance(document.get("environment"), dict)
            else f"#{index + 1}"
        )
        if not signature_valid(key, document):
            problems.append(
                _refusal(
                    ErrorCode.SETTINGS_TAMPERED,
                    label,
                    _(
                        "The settings file for {label} was altered after it was saved (or was "
                        "not issued by this server). Save the settings again and link the new "
                        "file."
                    ).format(label=label),
                )
            )
            continue
        try:
            parsed.append(parse_settings(document))
        except SettingsFileError as exc:
            problems.append(_refusal(ErrorCode.VALIDATION_ERROR, label, str(exc)))
    codes = [s.environment.code for s in parsed]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        problems.append(
            _refusal(
                ErrorCode.VALIDATION_ERROR,
                duplicates[0],
                _("Settings for {duplicates} appear more than once; link each once.").format(
                    duplicates=", ".join(duplicates)
                ),
            )
        )
    envs = {e.code: e for e in repo.environments(codes)}
    enrollments = repo.enrollments(
        [p.public_id for s in parsed if (p := split_secret(s.enrollment.code, ENROLLMENT_PREFIX))]
    )
    members = {v.membership.id: v for v in repo.members([e.id for e in envs.values()])}
    functions = repo.functions_of(list(members))
    blocked = {
        c.environment_id: c.blocked
        for c in repo.connectors([e.id for e in envs.values()])
        if c.name is ConnectorName.COMMUNICATION_CENTER
    }
    now = policy.clock()
    advisor = Advisor(repo)
    accepted = []
    for settings in parsed:
        code = settings.environment.code
        env = envs.get(code)
        if env is None:
            problems.append(
                _refusal(
                    ErrorCode.UNKNOWN_ENVIRONMENT,
                    code,
                    _(
                        "Environment {code} no longer exists on this server. Ask its administrator."
                    ).format(code=code),
                )
            )
            continue
        parts = split_secret(settings.enrollment.code, ENROLLMENT_PREFIX)
        enrollment = enrollments.get(parts.public_id) if parts else None
        view = members.get(enrollment.membership_id) if enrollment else None
        if (
            parts is None
            or enrollment is None
            or view is None
            or view.membership.environment_id != env.id
            or not secret_matches(enrollment.secret_hash, parts.secret)
        ):
            problems.append(
                _refusal(
                    ErrorCode.ENROLLMENT_UNKNOWN,
                    code,
                    _(
                        "The enrollment code in the settings file for {code} is not known "
                        "here. Save the settings again from the environment's portal."
                    ).format(code=code),
                )
            )
            continue
        if enrollment.used_at is not None:
            problems.append(
                _refusal(
                    ErrorCode.ENROLLMENT_USED,
                    code,
                    _(
                        "The settings file for {code} was already used to link a workstation; "
                        "each file links once. Save the settings again to link another time."
                    ).format(code=code),
                )
            )
            continue
        if enrollment.expires_at <= now:
            problems.append(
                _refusal(
                    ErrorCode.ENROLLMENT_EXPIRED,
                    code,
                    _(
                        "The settings file for {code} expired at {expires_at:%Y-%m-%d %H:%M} "
                        "UTC; settings files work for {minutes} minutes. Save the settings "
                        "again and link the new file straight away."
                    ).format(
                        code=code,
                        expires_at=enrollment.expires_at,
                        minutes=int(policy.enrollment_ttl.total_seconds() // 60),
                    ),
                )
            )
            continue
        problem = _access_problem(
            env,
            view.account.disabled,
            functions.get(view.membership.id, set()),
            blocked.get(env.id, True),
            (Function.SAVE_SETTINGS,),
        )
        if problem:
            problems.append(problem)
            continue
        if env.update != agent_update:
            mismatch = advisor.mismatch(env, view.account.id, agent_update)
            if settings.environment.update != env.update:
                mismatch.message += " " + _outdated_hint(env, settings.environment.update)
            problems.append(mismatch)
            continue
        if settings.environment.update != env.update:
            problems.append(_outdated(env, settings.environment.update, settings, policy))
            continue
        accepted.append((settings, env, enrollment, view))
    if problems:
        raise _combined(problems)
    results = []
    if not dry_run:
        repo.mark_enrollments_used([e.id for *_rest, e, _last in accepted], now)
        previous = repo.active_tokens_of_workstation(
            [v.membership.id for *_rest, v in accepted], workstation.id
        )
        replaced = {t.membership_id for t in previous}
        repo.revoke_tokens([t.id for t in previous], now, RevokeReason.REPLACED)
    else:
        replaced = {
            t.membership_id
            for t in repo.active_tokens_of_workstation(
                [v.membership.id for *_rest, v in accepted], workstation.id
            )
        }
    for _settings, env, _enrollment, view in accepted:
        token: str | None = None
        if not dry_run:
            token, parts = new_secret(TOKEN_PREFIX)
            repo.add_token(
                UserToken(
                    public_id=parts.public_id,
                    secret_hash=hash_secret(parts.secret),
                    membership_id=view.membership.id,
                    connector=ConnectorName.COMMUNICATION_CENTER,
                    workstation_id=workstation.id,
                    workstation_name=workstation.name,
                    created_at=now,
                    expires_at=now + policy.token_lifetime if policy.token_lifetime else None,
                )
            )
        results.append(
            LinkedEnvironment(
                code=env.code,
                name=env.name,
                kind=env.kind.value,
                update=env.update,
                api_url=env.api_url or policy.public_url,
                main_site_url=env.main_site_url or "",
                login=view.account.login,
                display_name=view.account.display_name,
                token=token,
                replaced_previous=view.membership.id in replaced,
            )
        )
    return results


def _outdated_hint(env: Environment, saved_on: str) -> str:
    return _(
        "This settings file was saved when {code} was on update {saved_on}: save the "
        "settings again after that, and link the new file."
    ).format(code=env.code, saved_on=saved_on)


def _outdated(
    env: Environment, saved_on: str, settings: SettingsFile, policy: Policy
) -> DomainError:
    """A settings file saved before its environment was converted: its update is stale,
    so the user saves the settings again (they hold Save settings: checked before)."""
    portal = env.main_site_url or settings.environment.main_site_url
    server = env.api_url or policy.public_url
    return _refusal(
        ErrorCode.SETTINGS_OUTDATED,
        env.code,
        _(
            "The settings file for {code} was saved before {code} was converted from update "
            "{saved_on} to {update}, so it no longer fits. Save the settings for {code} again "
            "(Communication Center of {code} on the portal {portal}, or `koppel settings "
            "download --server {server} --env {code}`) and link the new file."
        ).format(code=env.code, saved_on=saved_on, update=env.update, portal=portal, server=server),
    )


def _combined(problems: list[DomainError]) -> DomainError:
    if len(problems) == 1:
        return problems[0]
    first = problems[0]
    listing = "; ".join(f"{p.environment}: {p.message}" for p in problems)
    return DomainError(
        first.code,
        ngettext(
            "Nothing was linked: {count} settings file was refused. {listing}",
            "Nothing was linked: {count} settings files were refused. {listing}",
            len(problems),
        ).format(count=len(problems), listing=listing),
        environment=first.environment,
        details=problems,
    )


def _access_problem(
    env: Environment,
    disabled: bool,
    held: set[Function],
    blocked: bool,
    required: tuple[Function, ...],
) -> DomainError | None:
    if disabled:
        return _refusal(
            ErrorCode.ACCOUNT_DISABLED,
            env.code,
            _("Your account is disabled. Ask your administrator to enable it."),
        )
    if blocked:
        return _blocked(env)
    missing = [f for f in required if f not in held]
    if missing:
        return _refusal(
            ErrorCode.NOT_AUTHORIZED,
            env.code,
            _(
                "You are no longer authorized for {functions} in {code}. Ask its administrator "
                "to authorize you."
            ).format(functions=", ".join(f.value for f in missing), code=env.code),
        )
    return None


@dataclass(frozen=True)
class _Verdict:
    view: TokenView | None
    problem: DomainError | None


def unknown_token(code: str) -> DomainError:
    """The one answer to a caller without a valid token, whether ``code`` exists or not:
    it depends on nothing but what was asked, so it reveals no environment."""
    return _refusal(
        ErrorCode.TOKEN_INVALID,
        code,
        _(
            "This workstation's link to {code} is not valid on this server: its token is "
            "unknown here, or {code} was removed. {hint} If {code} no longer exists, forget it "
            "with `koppel unlink {code}`."
        ).format(code=code, hint=_relink_hint(code)),
    )


def _verify(
    views: dict[str, TokenView],
    code: str,
    presented: str,
    agent_update: str,
    now: datetime,
    advisor: Advisor,
) -> _Verdict:
    """Find and judge a presented token (without the connector and function checks).

    Only the token is looked at, never whether ``code`` exists: a caller without a valid
    token gets :func:`unknown_token`, the holder of another environment's token learns
    about that environment only.
    """
    parts = split_secret(presented, TOKEN_PREFIX)
    view = views.get(parts.public_id) if parts else None
    if parts is None or view is None or not secret_matches(view.token.secret_hash, parts.secret):
        return _Verdict(None, unknown_token(code))
    env = view.environment
    if env.code != code:
        return _Verdict(
            None,
            _refusal(
                ErrorCode.TOKEN_WRONG_ENVIRONMENT,
                code,
                _(
                    "This token belongs to environment {code}, not {asked}; each environment "
                    "has its own token. Link the environment with its own settings file."
                ).format(code=env.code, asked=code),
            ),
        )
    token = view.token
    if token.revoked_at is not None:
        why = _REVOKED.get(token.revoked_reason or RevokeReason.ADMINISTRATOR, _REVOKED_OTHERWISE)
        return _Verdict(
            view,
            _refusal(
                ErrorCode.TOKEN_REVOKED,
                code,
                _(why).format(code=code) + " " + _relink_hint(code),
            ),
        )
    if token.expired(now):
        return _Verdict(
            view,
            _refusal(
                ErrorCode.TOKEN_REVOKED,
                code,
                _(
                    "Access to {code} from this workstation expired on {expires_at:%Y-%m-%d}. "
                    "{hint}"
                ).format(code=code, expires_at=token.expires_at, hint=_relink_hint(code)),
            ),
        )
    if env.update != agent_update:
        return _Verdict(view, advisor.mismatch(env, view.account.id, agent_update))
    return _Verdict(view, None)


def authenticate_token(
    repo: Repository, policy: Policy, code: str, presented: str, agent_update: str
) -> TokenView:
    """The token's owner for a request on environment ``code``, or the refusal (the
    same one for an unknown environment as for a bad token: see :func:`_verify`)."""
    code = code.strip().upper()
    parts = split_secret(presented, TOKEN_PREFIX)
    views = repo.tokens_by_public_id([parts.public_id]) if parts else {}
    now = policy.clock()
    verdict = _verify(views, code, presented, agent_update, now, Advisor(repo))
    if verdict.problem:
        raise verdict.problem
    assert verdict.view is not None
    view = verdict.view
    problem = _access_problem(
        view.environment, view.account.disabled, set(), view.connector_blocked, ()
    )
    if problem:
        raise problem
    if view.token.use_worth_recording(now):
        repo.touch_tokens([view.token.id], now)
    return view


def functions_of(repo: Repository, view: TokenView) -> set[Function]:
    """What the token's user may do in its environment."""
    return repo.functions_of([view.membership.id]).get(view.membership.id, set())


def statuses(
    repo: Repository, policy: Policy, agent_update: str, queries: Sequence[StatusQuery]
) -> list[EnvironmentStatus]:
    """The status of many links on this server, answered from a few bulk reads.

    Each answer depends on its token first: without a valid token for the environment
    asked, the answer is the same whether that environment exists or not, and carries no
    name, update or login (those go to the token's holder only).
    """
    now = policy.clock()
    ids = [p.public_id for q in queries if (p := split_secret(q.token, TOKEN_PREFIX))]
    views = repo.tokens_by_public_id(ids)
    membership_ids = [v.membership.id for v in views.values()]
    functions = repo.functions_of(membership_ids)
    blocked = {
        c.environment_id: c.blocked
        for c in repo.connectors(sorted({v.environment.id for v in views.values()}))
        if c.name is ConnectorName.COMMUNICATION_CENTER
    }
    used = []
    answers = []
    advisor = Advisor(repo)
    for query in queries:
        code = query.environment.strip().upper()
        verdict = _verify(views, code, query.token, agent_update, now, advisor)
        view = verdict.view
        if view is None:
            # No valid token for this code: nothing about the environment is told.
            assert verdict.problem is not None
            answers.append(
                EnvironmentStatus(
                    environment=code, state=verdict.problem.code, message=verdict.problem.message
                )
            )
            continue
        env = view.environment
        held = functions.get(view.membership.id, set())
        is_blocked = blocked.get(env.id, True)
        missing = [f.value for f in LINK_FUNCTIONS if f not in held]
        problem = verdict.problem or _access_problem(
            env, view.account.disabled, held, is_blocked, LINK_FUNCTIONS
        )
        if problem is None and view.token.use_worth_recording(now):
            used.append(view.token.id)
        firm = advisor.firm_of(env)
        mismatched = problem is not None and problem.code is ErrorCode.UPDATE_MISMATCH
        answers.append(
            EnvironmentStatus(
                environment=code,
                state=problem.code if problem else "ok",
                message=problem.message if problem else "",
                name=env.name,
                update=env.update,
                login=view.account.login,
                connector_blocked=is_blocked,
                missing_functions=missing,
                firm=firm.code if firm else None,
                installation=advisor.installation(env, view.account.id) if mismatched else None,
            )
        )
    repo.touch_tokens(used, now)
    return answers


def unlink(repo: Repository, policy: Policy, view: TokenView) -> None:
    """Revoke the calling workstation's own token."""
    repo.revoke_tokens([view.token.id], policy.clock(), RevokeReason.UNLINKED)
