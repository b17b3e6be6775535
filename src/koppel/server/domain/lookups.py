"""Finding environments, accounts and users, with refusals that say what to do."""

from __future__ import annotations

from koppel.i18n import gettext as _
from koppel.protocol.errors import ErrorCode
from koppel.server.domain import names
from koppel.server.domain.errors import DomainError
from koppel.server.domain.model import Account, Environment, Membership
from koppel.server.domain.repository import Repository


def environment(repo: Repository, code: str) -> Environment:
    """The environment with this code, or ``unknown_environment``."""
    found = repo.environment(names.environment_code(code))
    if found is None:
        missing = f"Environment {code.upper()} does not exist on this server."
        raise DomainError(
            ErrorCode.UNKNOWN_ENVIRONMENT,
            _(
                "Environment {code} does not exist on this server. Check the code, or ask your "
                "administrator which environments are hosted here."
            ).format(code=code.upper()),
            environment=code.upper(),
            admin_message=f"{missing} Check the code; `koppel-admin env list` lists the "
            "environments hosted here.",
        )
    return found


def account(repo: Repository, login: str) -> Account:
    """The account with this login, or ``not_found``."""
    found = repo.account(names.login(login))
    if found is None:
        raise DomainError(
            ErrorCode.NOT_FOUND,
            _(
                "There is no account {login!r}. Create it first with `koppel-admin accounts "
                "create {login}`."
            ).format(login=login),
        )
    return found


def membership(repo: Repository, env: Environment, acct: Account) -> Membership:
    """The account's user in the environment, or ``not_a_member``."""
    found = repo.membership(env.id, acct.id)
    if found is None:
        raise DomainError(
            ErrorCode.NOT_A_MEMBER,
            _(
                "{login} is not a user of environment {code}. Add the user with `koppel-admin "
                "users add {code} {login}`."
            ).format(login=acct.login, code=env.code),
            environment=env.code,
        )
    return found


def users_environment(repo: Repository, code: str, acct: Account) -> tuple[Environment, Membership]:
    """An environment the account is a user of, with that user. An unknown environment
    reads the same as one the account is not a user of (``not_a_member``), so a signed-in
    user learns nothing about other firms' environments."""
    wanted = code.strip().upper()[:32]
    env = repo.environment(wanted)
    found = repo.membership(env.id, acct.id) if env is not None else None
    if env is None or found is None:
        raise DomainError(
            ErrorCode.NOT_A_MEMBER,
            _(
                "{login} is not a user of environment {wanted}. Check the code; if it is "
                "right, ask the environment's administrator to add you."
            ).format(login=acct.login, wanted=wanted),
            environment=wanted,
        )
    return env, found
