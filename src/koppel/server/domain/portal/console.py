"""The administration console of the portal: which missing checklist step a click can
do (and what exactly it does), who may administer which environment, user tokens with
their state, and pages of the audit log.

A step's click does what its fix command in ``koppel-admin check`` does, through the same
``Admin`` operations, so the result is the same and audited with the clicking user as the
actor. Steps that need a decision (which login to add, which firm, converting to a newer
update) are shown with their command only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from koppel.i18n import gettext as _
from koppel.protocol.errors import ErrorCode
from koppel.protocol.functions import LINK_FUNCTIONS, Function
from koppel.server.domain import names, periods
from koppel.server.domain.errors import DomainError
from koppel.server.domain.model import (
    Account,
    AuditEntry,
    ConnectorName,
    Environment,
    Kind,
    MemberView,
    TokenView,
)
from koppel.server.domain.policy import Policy
from koppel.server.domain.portal import environments as portal_rules
from koppel.server.domain.repository import Repository
from koppel.server.domain.setup.administration import Admin, Outcome
from koppel.server.domain.setup.procedure import (
    FIRM_FUNCTIONS,
    EnvironmentCheck,
    StepResult,
    check_environments,
    lacking_functions,
    short_functions,
)

# What a click runs: one ``Admin`` operation (each idempotent and audited).
Operation = Callable[[Admin], Outcome]


@dataclass(frozen=True)
class Offer:
    """A button for one missing step: its label and what it will change."""

    step: str
    label: str
    effect: str


@dataclass(frozen=True)
class _Plan:
    offer: Offer
    operations: tuple[Operation, ...]


# --- who may administer what


def require_administrator(
    repo: Repository, portal: Environment, account: Account, code: str
) -> Environment:
    """The environment ``code`` if the account administers it from this portal (holds
    General/Management/App connector there), else ``not_found``: an environment the user
    does not administer looks the same as one that does not exist."""
    try:
        shown = portal_rules.environment_of(repo, portal, account, code)
    except DomainError as exc:
        if exc.code is not ErrorCode.NOT_FOUND:
            raise
        shown = None
    if shown is None or not shown.administers:
        raise DomainError(
            ErrorCode.NOT_FOUND,
            _(
                "{code} is not an environment you administer on the portal of {portal}; "
                "administering needs {function} in it."
            ).format(code=code.upper(), portal=portal.code, function=Function.APP_CONNECTOR.value),
            environment=code.upper(),
        )
    return shown.environment


# --- the checklist's buttons


@dataclass
class _Facts:
    envs: dict[str, Environment]
    firms: dict[int, Environment]
    members: dict[int, list[MemberView]]
    functions: dict[int, set[Function]]


def _load(repo: Repository, codes: Sequence[str]) -> _Facts:
    envs = {e.code: e for e in repo.environments(list(codes))}
    firms = {e.id: e for e in envs.values() if e.kind is Kind.FIRM}
    for firm_id in {e.firm_id for e in envs.values() if e.firm_id} - set(firms):
        firm = repo.environment_by_id(firm_id) if firm_id else None
        if firm is not None:
            firms[firm.id] = firm
    members: dict[int, list[MemberView]] = {}
    for view in repo.members(sorted({e.id for e in envs.values()} | set(firms))):
        members.setdefault(view.membership.environment_id, []).append(view)
    functions = repo.functions_of([v.membership.id for vs in members.values() for v in vs])
    return _Facts(envs, firms, members, functions)


def _short(functions: Sequence[Function]) -> str:
    return short_functions(functions)


def _api_url_plan(env: Environment, policy: Policy) -> _Plan:
    url = policy.public_url
    return _Plan(
        Offer(
            "api-url",
            _("Record the API URL"),
            _("Records {url} as the address agents use.").format(url=url),
        ),
        (lambda a: a.set_api_url(env.code, url),),
    )


def _portal_plan(env: Environment, facts: _Facts) -> _Plan | None:
    without = sorted(
        v.account.login for v in facts.members.get(env.id, []) if not v.membership.portal_access
    )
    if not without:
        return None  # no users yet: someone must choose whom to add
    return _Plan(
        Offer(
            "portal-access",
            _("Grant portal access to every user"),
            _("Gives portal access to {logins}.").format(logins=", ".join(without)),
        ),
        tuple(_grant(env.code, login) for login in without),
    )


def _grant(code: str, login: str) -> Operation:
    return lambda a: a.set_portal_access(code, login, True)


def _authorize(code: str, login: str, functions: Sequence[Function]) -> Operation:
    return lambda a: a.authorize_user(code, login, functions)


def _add(code: str, login: str) -> Operation:
    return lambda a: a.add_user(code, login)


def _authorization_plan(env: Environment, facts: _Facts) -> _Plan | None:
    """As the step's fix command: the users who lack a required function get it (the
    command names one user at a time; the click does them all). A client without any of
    the firm's employees gets them added and authorized, as `setup client --user` does
    for each employee."""
    firm = facts.firms.get(env.firm_id) if env.firm_id else None
    if env.kind is Kind.FIRM:
        required: tuple[Function, ...] = FIRM_FUNCTIONS
        users = facts.members.get(env.id, [])
        label = _("Authorize the users")
    elif firm is not None:
        required = LINK_FUNCTIONS
        staff = {v.account.id for v in facts.members.get(firm.id, [])}
        users = [v for v in facts.members.get(env.id, []) if v.account.id in staff]
        label = _("Authorize the firm's employees")
        if not users:
            logins = sorted(v.account.login for v in facts.members.get(firm.id, []))
            if not logins:
                return None
            return _Plan(
                Offer(
                    "authorizations",
                    label,
                    _("Adds {logins} as users and authorizes them for {functions}.").format(
                        logins=", ".join(logins), functions=_short(required)
                    ),
                ),
                tuple(
                    op
                    for login in logins
                    for op in (_add(env.code, login), _authorize(env.code, login, required))
                ),
            )
    else:
        return None  # the managing firm must be recorded first
    lacking = lacking_functions(users, facts.functions, required)
    if not lacking:
        return None
    return _Plan(
        Offer(
            "authorizations",
            label,
            _("Authorizes {grants}.").format(
                grants="; ".join(
                    _("{login} for {functions}").format(login=login, functions=_short(missing))
                    for login, missing in lacking
                )
            ),
        ),
        tuple(_authorize(env.code, login, missing) for login, missing in lacking),
    )


def _connector_plan(env: Environment) -> _Plan:
    return _Plan(
        Offer(
            "connector",
            _("Unblock the connector"),
            _(
                "Opens the Communication Center app connector, so users can save settings and "
                "link their workstations."
            ),
        ),
        (lambda a: a.set_connector_blocked(env.code, ConnectorName.COMMUNICATION_CENTER, False),),
    )


def main_site_for(env: Environment, firm: Environment | None, policy: Policy) -> str | None:
    """The main site the fix command proposes: the environment's own portal when it has
    one, else the managing firm's main site (None when there is nothing to propose)."""
    if env.has_portal:
        return policy.portal_url(env.code)
    if env.kind is Kind.CLIENT and firm is not None:
        return firm.main_site_url
    return None  # a firm without a portal must get one first (`env set --portal`)


def _main_site_plan(env: Environment, facts: _Facts, policy: Policy) -> _Plan | None:
    firm = facts.firms.get(env.firm_id) if env.firm_id else None
    site = main_site_for(env, firm, policy)
    if site is None:
        return None
    return _Plan(
        Offer(
            "main-site",
            _("Record the main site"),
            _("Records {site} as the main site.").format(site=site),
        ),
        (lambda a: a.set_main_site(env.code, site),),
    )


def _plan(step: StepResult, env: Environment, facts: _Facts, policy: Policy) -> _Plan | None:
    if step.done:
        return None
    if step.key == "api-url":
        return _api_url_plan(env, policy)
    if step.key == "portal-access":
        return _portal_plan(env, facts)
    if step.key == "authorizations":
        return _authorization_plan(env, facts)
    if step.key == "connector":
        return _connector_plan(env)
    if step.key == "main-site":
        return _main_site_plan(env, facts, policy)
    return None  # the managing firm and the update need a decision: command only


def offers(
    repo: Repository, policy: Policy, checks: Sequence[EnvironmentCheck]
) -> dict[str, dict[str, Offer]]:
    """For each checked environment, the buttons of its missing steps, by step key."""
    facts = _load(repo, [c.code for c in checks])
    found: dict[str, dict[str, Offer]] = {}
    for check in checks:
        env = facts.envs[check.code]
        plans = ((step.key, _plan(step, env, facts, policy)) for step in check.steps)
        found[check.code] = {key: plan.offer for key, plan in plans if plan is not None}
    return found


def apply_step(admin: Admin, code: str, step_key: str) -> list[Outcome]:
    """Do one step of an environment's checklist, as its button promises. A step that is
    already done changes nothing; one a click cannot do is refused with its command."""
    code = names.environment_code(code)
    if admin.templates is None:
        raise RuntimeError("Admin needs templates to check an environment")
    check = check_environments(admin.repo, admin.policy, [code], catalogs=admin.templates)[0]
    step = next((s for s in check.steps if s.key == step_key), None)
    if step is None:
        raise DomainError(
            ErrorCode.NOT_FOUND,
            _("The checklist of {code} has no step {step_key!r}.").format(
                code=code, step_key=step_key
            ),
            environment=code,
        )
    if step.done:
        return [
            Outcome(False, _("{title}: already done in {code}").format(title=step.title, code=code))
        ]
    facts = _load(admin.repo, [code])
    plan = _plan(step, facts.envs[code], facts, admin.policy)
    if plan is None:
        message = (
            _("{title} ({code}) cannot be done with a click; do it with `{command}`.")
            if step.fix
            else _("{title} ({code}) cannot be done with a click.")
        )
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            message.format(title=step.title, code=code, command=step.fix),
            environment=code,
        )
    return [operation(admin) for operation in plan.operations]


def summary(outcomes: Sequence[Outcome]) -> str:
    """The outcomes in one sentence for the page's notice."""
    changed = [o.message for o in outcomes if o.changed]
    return "; ".join(changed or [o.message for o in outcomes][:1]) or "Nothing to change."


# --- user tokens


@dataclass(frozen=True)
class TokenRow:
    """A token as the tokens page shows it."""

    view: TokenView
    state: str

    @property
    def active(self) -> bool:
        """Whether the token still works (a revoke button makes sense)."""
        return self.state == "active"


def token_state(view: TokenView, now: datetime) -> str:
    """``active``, ``expired`` or ``revoked (reason)``."""
    token = view.token
    if token.revoked_at is not None:
        reason = token.revoked_reason.value if token.revoked_reason else "unknown"
        return f"revoked ({reason.replace('_', ' ')})"
    if token.expired(now):
        return "expired"
    return "active"


def tokens_by_connector(
    views: Sequence[TokenView], now: datetime
) -> list[tuple[ConnectorName, list[TokenRow]]]:
    """Every connector (in their fixed order) with its tokens, newest first."""
    return [
        (
            connector,
            [TokenRow(v, token_state(v, now)) for v in views if v.token.connector is connector],
        )
        for connector in ConnectorName
    ]


def revoke_user_tokens(admin: Admin, code: str, login: str) -> Outcome:
    """Revoke every active token of one user in an environment (never of everyone: a
    login is required)."""
    if not login.strip():
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Choose whose tokens to revoke."))
    return admin.revoke_tokens(code, login=names.login(login))


# --- the audit log


AUDIT_PAGE_SIZE = 50


@dataclass(frozen=True)
class AuditFilter:
    """What the audit page narrows to; empty fields do not narrow."""

    environment: str | None = None
    actor: str | None = None
    action: str | None = None
    since: date | None = None
    until: date | None = None


@dataclass(frozen=True)
class AuditPage:
    """One page of audit entries, newest first."""

    entries: list[AuditEntry]
    page: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        """Whether a newer page exists."""
        return self.page > 1


def audit_page(
    repo: Repository,
    administered: Sequence[str],
    wanted: AuditFilter,
    page: int = 1,
    size: int = AUDIT_PAGE_SIZE,
) -> AuditPage:
    """The audit entries of the environments this user administers (entries of other
    environments and server-wide ones, such as account changes, are not theirs to see)."""
    codes = sorted({c.upper() for c in administered})
    if wanted.environment:
        chosen = wanted.environment.strip().upper()
        if chosen not in codes:
            raise DomainError(
                ErrorCode.NOT_FOUND,
                _("{chosen} is not an environment you administer on this portal.").format(
                    chosen=chosen
                ),
                environment=chosen,
            )
        codes = [chosen]
    if wanted.since and wanted.until and wanted.since > wanted.until:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR, _("The start date is after the end date; swap them.")
        )
    page = max(page, 1)
    found = repo.audit_entries(
        actor=(wanted.actor or "").strip() or None,
        action=(wanted.action or "").strip().rstrip(".") or None,
        limit=size + 1,  # one more tells whether a next page exists
        environments=codes,
        since=periods.start_of(wanted.since) if wanted.since else None,
        until=periods.end_of(wanted.until) if wanted.until else None,
        offset=(page - 1) * size,
    )
    return AuditPage(found[:size], page, len(found) > size)
