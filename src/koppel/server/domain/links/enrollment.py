""" "Save settings" and "Save installation": what an authenticated user may take home.

A settings file carries a single-use enrollment code bound to the user's membership; a
bundle carries one for every client environment of a firm the user may link.
"""

from __future__ import annotations

from typing import Any

from koppel.i18n import gettext as _
from koppel.protocol.errors import ErrorCode
from koppel.protocol.functions import Function
from koppel.protocol.secrets import ENROLLMENT_PREFIX, new_secret
from koppel.protocol.settings_file import (
    SETTINGS_FORMAT,
    SettingsBundle,
    SettingsFileError,
    SettingsUser,
    parse_settings,
)
from koppel.server.domain import lookups, names
from koppel.server.domain.audit import record
from koppel.server.domain.errors import DomainError
from koppel.server.domain.hashing import hash_secret, sign_document
from koppel.server.domain.links.bundle_plan import BundlePlan, plan_bundle, skipped
from koppel.server.domain.model import (
    Account,
    ConnectorName,
    EnrollmentCode,
    Environment,
    Kind,
    Membership,
)
from koppel.server.domain.passwords import verify_password
from koppel.server.domain.policy import Policy
from koppel.server.domain.repository import Repository


def authenticate(repo: Repository, login: str, password: str) -> Account:
    """The account for a login and password, or ``invalid_credentials``/``account_disabled``."""
    try:
        normalised = names.login(login)
    except DomainError:
        normalised = ""
    acct = repo.account(normalised) if normalised else None
    if not verify_password(acct.password_hash if acct else None, password) or acct is None:
        raise DomainError(
            ErrorCode.INVALID_CREDENTIALS,
            _(
                "The login or password is wrong. Check them, or ask your administrator to "
                "reset your password."
            ),
        )
    if acct.disabled:
        raise DomainError(
            ErrorCode.ACCOUNT_DISABLED,
            _("The account {login} is disabled. Ask your administrator to enable it.").format(
                login=acct.login
            ),
        )
    return acct


def _ready_membership(
    repo: Repository, env: Environment, acct: Account, function: Function
) -> Membership:
    """The user's membership if they may use ``function`` in ``env`` now; else a refusal."""
    member = lookups.membership(repo, env, acct)
    if function not in repo.functions_of([member.id]).get(member.id, set()):
        raise DomainError(
            ErrorCode.NOT_AUTHORIZED,
            _(
                "You are not authorized for {function} in {code}. Ask the administrator of {code} "
                "to authorize you (koppel-admin users authorize {code} {login} --function "
                "{function!r})."
            ).format(function=function.value, code=env.code, login=acct.login),
            environment=env.code,
        )
    connector = next(
        c for c in repo.connectors([env.id]) if c.name is ConnectorName.COMMUNICATION_CENTER
    )
    if connector.blocked:
        raise DomainError(
            ErrorCode.CONNECTOR_BLOCKED,
            _(
                "App connector is blocked: the Communication Center connector of {code} is "
                "still blocked. Ask its administrator to unblock it (koppel-admin connector "
                "unblock {code} communication-center)."
            ).format(code=env.code),
            environment=env.code,
        )
    return member


def _issue(
    repo: Repository, policy: Policy, key: bytes, env: Environment, acct: Account
) -> dict[str, Any]:
    member = _ready_membership(repo, env, acct, Function.SAVE_SETTINGS)
    if not env.main_site_url:
        raise DomainError(
            ErrorCode.MAIN_SITE_MISSING,
            _(
                "No main site is recorded for {code}, so settings cannot be saved yet. Ask its "
                "administrator to record it (koppel-admin env set-main-site {code} URL)."
            ).format(code=env.code),
            environment=env.code,
        )
    if not env.api_url:
        raise DomainError(
            ErrorCode.API_URL_MISSING,
            _(
                "No API URL is recorded for {code}, so agents would not know where to reach "
                "it. Ask its administrator to record it (koppel-admin env set-api-url {code} "
                "URL)."
            ).format(code=env.code),
            environment=env.code,
        )
    return _mint(repo, policy, key, env, acct, member)


def _mint(
    repo: Repository,
    policy: Policy,
    key: bytes,
    env: Environment,
    acct: Account,
    member: Membership,
) -> dict[str, Any]:
    """The signed settings document with a new enrollment code, for a membership already
    found ready (authorized, connector open, addresses recorded)."""
    now = policy.clock()
    code, parts = new_secret(ENROLLMENT_PREFIX)
    expires = now + policy.enrollment_ttl
    unsigned = {
        "format": SETTINGS_FORMAT,
        "environment": {
            "code": env.code,
            "name": env.name,
            "kind": env.kind.value,
            "update": env.update,
            "api_url": env.api_url,
            "main_site_url": env.main_site_url,
        },
        "user": {"login": acct.login, "display_name": acct.display_name},
        "enrollment": {"code": code, "expires": expires},
        "issued": now,
    }
    try:
        # The agent reads settings files with the same schema: never issue one it refuses.
        settings = parse_settings(unsigned, f"The settings of {env.code}")
    except SettingsFileError as exc:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            _(
                "The settings of {code} cannot be saved: what is recorded is not valid "
                "({problem}). Ask its administrator to correct it (koppel-admin env show "
                "{code})."
            ).format(code=env.code, problem=exc.problem),
            environment=env.code,
        ) from exc
    repo.add_enrollment(
        EnrollmentCode(parts.public_id, hash_secret(parts.secret), member.id, now, expires)
    )
    document = settings.model_dump(mode="json")
    document["signature"] = sign_document(key, document)
    return document


def settings_for(repo: Repository, policy: Policy, acct: Account, code: str) -> dict[str, Any]:
    """The settings file of one environment for an already authenticated user."""
    env, _member = lookups.users_environment(repo, code, acct)
    document = _issue(repo, policy, repo.signing_key(), env, acct)
    record(repo, policy, acct.login, "settings.save", env.code)
    return document


def bundle_plan(repo: Repository, policy: Policy, acct: Account, firm: str) -> BundlePlan:
    """Which clients of the firm the user's bundle holds and which it leaves out, and why;
    ``not_a_firm`` when ``firm`` is a client environment."""
    firm_env, _member = lookups.users_environment(repo, firm, acct)
    if firm_env.kind is not Kind.FIRM:
        raise DomainError(
            ErrorCode.NOT_A_FIRM,
            _(
                "{code} is a client environment; a bundle is saved from the firm's environment."
            ).format(code=firm_env.code),
            environment=firm_env.code,
        )
    return plan_bundle(repo, policy, firm_env, acct)


def bundle_for(repo: Repository, policy: Policy, acct: Account, firm: str) -> dict[str, Any]:
    """The bundle of a firm's client settings for an already authenticated user: the
    settings of every client it may hold, and every other client of the firm in
    ``skipped`` with its reason."""
    plan = bundle_plan(repo, policy, acct, firm)
    key = repo.signing_key()
    documents: list[dict[str, Any]] = []
    left_out = list(plan.skipped)
    for client, member in plan.included:
        try:
            documents.append(_mint(repo, policy, key, client, acct, member))
        except DomainError as exc:
            left_out.append(skipped(client, exc.code, exc.message))
    left_out.sort(key=lambda entry: entry.environment)
    now = policy.clock()
    try:
        bundle = SettingsBundle(
            firm=plan.firm.code,
            user=SettingsUser(login=acct.login, display_name=acct.display_name),
            issued=now,
            settings=[],
            skipped=left_out,
        ).model_dump(mode="json")
    except ValueError as exc:  # the schema the agent reads refuses what is recorded
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            _(
                "The bundle of {code} cannot be saved: your account's recorded name {value!r} "
                "is not valid there. Ask an administrator to correct it."
            ).format(code=plan.firm.code, value=acct.display_name[:100]),
            environment=plan.firm.code,
        ) from exc
    bundle["settings"] = documents
    record(
        repo, policy, acct.login, "settings.bundle", plan.firm.code,
        count=len(documents), skipped=len(left_out),
    )  # fmt: skip
    return bundle


def installation_for(repo: Repository, acct: Account, code: str) -> Environment:
    """The environment whose agent an already authenticated user may download."""
    env, _member = lookups.users_environment(repo, code, acct)
    _ready_membership(repo, env, acct, Function.SAVE_INSTALLATION)
    return env
