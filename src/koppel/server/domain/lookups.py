"""Finding environments, accounts and users, with refusals that say what to do."""

from __future__ import annotations

from koppel.protocol.errors import ErrorCode
from koppel.server.domain import names
from koppel.server.domain.errors import DomainError
from koppel.server.domain.model import Account, Environment, Membership
from koppel.server.domain.repository import Repository


def environment(repo: Repository, code: str) -> Environment:
    """The environment with this code, or ``unknown_environment``."""
    found = repo.environment(names.environment_code(code))
    if found is None:
        raise DomainError(
            ErrorCode.UNKNOWN_ENVIRONMENT,
            f"Environment {code.upper()} does not exist on this server. Check the code, or ask "
            "your administrator which environments are hosted here.",
            environment=code.upper(),
        )
    return found


def account(repo: Repository, login: str) -> Account:
    """The account with this login, or ``not_found``."""
    found = repo.account(names.login(login))
    if found is None:
        raise DomainError(
            ErrorCode.NOT_FOUND,
            f"There is no account {login!r}. Create it first with "
            f"`koppel-admin accounts create {login}`.",
        )
    return found


def membership(repo: Repository, env: Environment, acct: Account) -> Membership:
    """The account's user in the environment, or ``not_a_member``."""
    found = repo.membership(env.id, acct.id)
    if found is None:
        raise DomainError(
            ErrorCode.NOT_A_MEMBER,
            f"{acct.login} is not a user of environment {env.code}. Add the user with "
            f"`koppel-admin users add {env.code} {acct.login}`.",
            environment=env.code,
        )
    return found
