"""What the portal shows a signed-in user: their environments and what each offers.

The portal of a firm lists the firm's own environment and every client environment of
that firm where the user is a user; a client with its own portal lists itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from koppel.i18n import gettext as _
from koppel.protocol.errors import ErrorCode
from koppel.protocol.functions import Function
from koppel.server.domain.errors import DomainError
from koppel.server.domain.model import (
    Account,
    ConnectorName,
    Environment,
    Kind,
    Membership,
    TokenView,
    UserToken,
)
from koppel.server.domain.policy import Policy
from koppel.server.domain.repository import Repository

# Dossier items made in the portal name this as their source workstation.
PORTAL_WORKSTATION_ID = "portal"
PORTAL_WORKSTATION_NAME = "Web portal"


@dataclass(frozen=True)
class PortalEnvironment:
    """One environment as the home page and the Communication Center page show it."""

    environment: Environment
    membership: Membership
    functions: frozenset[Function]
    connector_open: bool
    # Why "Download settings" cannot be offered (empty when it can); each names the step.
    settings_blockers: tuple[str, ...] = field(default=())
    installation_blockers: tuple[str, ...] = field(default=())

    @property
    def ready(self) -> bool:
        """Ready for the Communication Center: settings can be saved and linked."""
        return not self.settings_blockers

    @property
    def administers(self) -> bool:
        """Whether the user holds the app-connector management function here."""
        return Function.APP_CONNECTOR in self.functions


def _short(function: Function) -> str:
    # "Save settings", as the menu shows it, not the path of the authorization tree.
    return function.value.rsplit("/", 1)[-1]


def _blockers(
    env: Environment, login: str, functions: frozenset[Function], connector_open: bool,
    function: Function,
) -> tuple[str, ...]:  # fmt: skip
    # Only who administers the environment can run koppel-admin: the others read what to
    # ask for, in plain words, without a command they cannot use.
    commands = Function.APP_CONNECTOR in functions
    found: list[str] = []
    if function not in functions:
        if commands:
            found.append(
                _(
                    "You are not authorized for {function} in {code}: ask its "
                    "administrator (koppel-admin users authorize {code} {login} "
                    "--function {function!r})."
                ).format(function=function.value, code=env.code, login=login)
            )
        else:
            found.append(
                _(
                    "You are not authorized for “{function}” in {code}: ask its "
                    "administrator to authorize you."
                ).format(function=_short(function), code=env.code)
            )
    if not connector_open:
        if commands:
            found.append(
                _(
                    "The Communication Center app connector of {code} is blocked: ask its "
                    "administrator to unblock it (koppel-admin connector unblock {code} "
                    "communication-center)."
                ).format(code=env.code)
            )
        else:
            found.append(
                _(
                    "The Communication Center app connector of {code} is blocked: ask its "
                    "administrator to unblock it."
                ).format(code=env.code)
            )
    if function is Function.SAVE_SETTINGS and not env.main_site_url:
        if commands:
            found.append(
                _(
                    "No main site is recorded for {code}: ask its administrator to record "
                    "it (koppel-admin env set-main-site {code} URL)."
                ).format(code=env.code)
            )
        else:
            found.append(
                _(
                    "No main site is recorded for {code}: ask its administrator to record it."
                ).format(code=env.code)
            )
    if function is Function.SAVE_SETTINGS and not env.api_url:
        if commands:
            found.append(
                _(
                    "No API URL is recorded for {code}: ask its administrator to record it "
                    "(koppel-admin env set-api-url {code} URL)."
                ).format(code=env.code)
            )
        else:
            found.append(
                _("No API URL is recorded for {code}: ask its administrator to record it.").format(
                    code=env.code
                )
            )
    return tuple(found)


def environments_of(
    repo: Repository, portal: Environment, account: Account
) -> list[PortalEnvironment]:
    """The environments this user sees on ``portal``: the portal's own first, then its
    clients (by code) where the user is a user."""
    envs = [portal]
    if portal.kind is Kind.FIRM:
        envs += sorted(repo.clients_of(portal.id), key=lambda e: e.code)
    by_env = {
        v.membership.environment_id: v.membership
        for v in repo.members([e.id for e in envs])
        if v.account.id == account.id
    }
    functions = repo.functions_of([m.id for m in by_env.values()])
    open_connectors = {
        c.environment_id
        for c in repo.connectors(list(by_env))
        if c.name is ConnectorName.COMMUNICATION_CENTER and not c.blocked
    }
    shown: list[PortalEnvironment] = []
    for env in envs:
        member = by_env.get(env.id)
        if member is None:
            continue
        granted = frozenset(functions.get(member.id, set()))
        is_open = env.id in open_connectors
        shown.append(
            PortalEnvironment(
                env,
                member,
                granted,
                is_open,
                _blockers(env, account.login, granted, is_open, Function.SAVE_SETTINGS),
                _blockers(env, account.login, granted, is_open, Function.SAVE_INSTALLATION),
            )
        )
    return shown


def environment_of(
    repo: Repository, portal: Environment, account: Account, code: str
) -> PortalEnvironment:
    """One environment of this user on this portal, or ``not_found`` (never another
    firm's client, nor one where the user is not a user)."""
    return pick(environments_of(repo, portal, account), portal, code)


def pick(
    environments: list[PortalEnvironment], portal: Environment, code: str
) -> PortalEnvironment:
    """The environment ``code`` among those a user sees on ``portal``, or ``not_found``."""
    for shown in environments:
        if shown.environment.code == code.upper():
            return shown
    raise DomainError(
        ErrorCode.NOT_FOUND,
        _("{code} is not one of your environments on the portal of {portal}.").format(
            code=code, portal=portal.code
        ),
        environment=code.upper(),
    )


def acting_member(policy: Policy, shown: PortalEnvironment, account: Account) -> TokenView:
    """The user as the dossier and My files rules know a caller: a view with a token that
    is never stored, naming the portal as the source workstation."""
    token = UserToken(
        public_id="",
        secret_hash="",
        membership_id=shown.membership.id,
        connector=ConnectorName.COMMUNICATION_CENTER,
        workstation_id=PORTAL_WORKSTATION_ID,
        workstation_name=PORTAL_WORKSTATION_NAME,
        created_at=policy.clock(),
    )
    return TokenView(token, shown.membership, account, shown.environment)
