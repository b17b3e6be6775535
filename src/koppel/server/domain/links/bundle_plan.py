"""Which client environments of a firm a user's bundle holds, and why each other one is
left out: the one answer that the bundle file, the agent and the portal page all show.

Every client of the firm is in exactly one of the two lists, so that nobody believes a
client is linked when it is not. Each reason says who must do what: a user who
administers the client (holds General/Management/App connector there) is given the
command to run; anyone else is told to ask their administrator, with that command.
"""

from __future__ import annotations

import shlex
import unicodedata
from dataclasses import dataclass, field

from koppel.i18n import gettext as _
from koppel.protocol.errors import ErrorCode
from koppel.protocol.functions import Function
from koppel.protocol.settings_file import SkippedEnvironment, environment_problem
from koppel.server.domain.model import Account, ConnectorName, Environment, Kind, Membership
from koppel.server.domain.policy import Policy
from koppel.server.domain.repository import Repository


@dataclass(frozen=True)
class BundlePlan:
    """A firm's clients for one user: those the bundle holds, and those it leaves out."""

    firm: Environment
    included: list[tuple[Environment, Membership]] = field(default_factory=list)
    skipped: list[SkippedEnvironment] = field(default_factory=list)


@dataclass(frozen=True)
class _Reason:
    code: ErrorCode
    # What is wrong and what must be done, as said to the one who does it (the client's
    # administrator) and to the one who asks for it; whole sentences in the request's
    # language.
    for_administrator: str
    for_user: str

    def sentence(self, administers: bool) -> str:
        return self.for_administrator if administers else self.for_user


# The protocol's limits for a name: longer recorded names are shown cut, and these
# characters (which the agent refuses in a name) as spaces.
_NAME_LIMIT = 200
_CONTROL = frozenset({"Cc", "Cs", "Zl", "Zp"})


def shown_name(name: str) -> str | None:
    """A recorded name as a bundle may carry it: control characters as spaces, at most
    200 characters (cut with an ellipsis); None when nothing is left."""
    plain = "".join(" " if unicodedata.category(c) in _CONTROL else c for c in name).strip()
    if len(plain) > _NAME_LIMIT:
        plain = plain[: _NAME_LIMIT - 1] + "…"
    return plain or None


def _cmd(*parts: str) -> str:
    return "koppel-admin " + " ".join(shlex.quote(part) for part in parts)


def _reason(
    code: ErrorCode,
    for_administrator: str,
    for_user: str,
    environment: str,
    command: str,
    problem: str = "",
) -> _Reason:
    values = {"code": environment, "command": command, "problem": problem}
    return _Reason(code, for_administrator.format(**values), for_user.format(**values))


def _main_site_hint(client: Environment, firm: Environment) -> str:
    # A client without a portal of its own uses its firm's portal as main site.
    if not client.has_portal and firm.main_site_url:
        return firm.main_site_url
    return "URL"


def _reasons(
    client: Environment,
    firm: Environment,
    login: str,
    functions: set[Function],
    connector_open: bool,
    public_url: str,
) -> list[_Reason]:
    code = client.code
    found: list[_Reason] = []
    if Function.SAVE_SETTINGS not in functions:
        found.append(
            _reason(
                ErrorCode.NOT_AUTHORIZED,
                _(
                    "You are not authorized for Save settings in {code}: as its administrator, "
                    "authorize yourself ({command})."
                ),
                _(
                    "You are not authorized for Save settings in {code}: ask your "
                    "administrator to authorize you ({command})."
                ),
                code,
                _cmd("users", "authorize", code, login, "--function", "Save settings"),
            )
        )
    if not connector_open:
        found.append(
            _reason(
                ErrorCode.CONNECTOR_BLOCKED,
                _(
                    "The Communication Center app connector of {code} is blocked: as its "
                    "administrator, unblock it ({command})."
                ),
                _(
                    "The Communication Center app connector of {code} is blocked: ask your "
                    "administrator to unblock it ({command})."
                ),
                code,
                _cmd("connector", "unblock", code, "communication-center"),
            )
        )
    if not client.main_site_url:
        found.append(
            _reason(
                ErrorCode.MAIN_SITE_MISSING,
                _(
                    "No main site is recorded for {code}: as its administrator, record it "
                    "({command})."
                ),
                _(
                    "No main site is recorded for {code}: ask your administrator to record it "
                    "({command})."
                ),
                code,
                _cmd("env", "set-main-site", code, _main_site_hint(client, firm)),
            )
        )
    if not client.api_url:
        found.append(
            _reason(
                ErrorCode.API_URL_MISSING,
                _(
                    "No API URL is recorded for {code}: as its administrator, record it "
                    "({command})."
                ),
                _(
                    "No API URL is recorded for {code}: ask your administrator to record it "
                    "({command})."
                ),
                code,
                _cmd("env", "set-api-url", code, public_url),
            )
        )
    if not found:
        # What the settings file would carry must pass the schema the agent reads.
        problem = environment_problem(
            {
                "code": client.code,
                "name": client.name,
                "kind": client.kind.value,
                "update": client.update,
                "api_url": client.api_url,
                "main_site_url": client.main_site_url,
            }
        )
        if problem:
            found.append(
                _reason(
                    ErrorCode.VALIDATION_ERROR,
                    _(
                        "What is recorded for {code} cannot go into a settings file "
                        "({problem}): as its administrator, correct it ({command})."
                    ),
                    _(
                        "What is recorded for {code} cannot go into a settings file "
                        "({problem}): ask your administrator to correct it ({command})."
                    ),
                    code,
                    _cmd("env", "show", code),
                    problem=problem,
                )
            )
    return found


def not_a_member(client: Environment, firm: Environment, login: str) -> SkippedEnvironment:
    """A client the user is no user of: only an administrator can add them."""
    command = _cmd("setup", "client", client.code, "--firm", firm.code, "--user", login)
    return SkippedEnvironment(
        environment=client.code,
        name=shown_name(client.name),
        code=ErrorCode.NOT_A_MEMBER,
        message=_(
            "You are not a user of {code}: if you work for this client, ask your "
            "administrator to add you ({command})."
        ).format(code=client.code, command=command),
    )


def skipped(client: Environment, code: ErrorCode, message: str) -> SkippedEnvironment:
    """A client left out for a reason found while issuing its settings."""
    return SkippedEnvironment(
        environment=client.code, name=shown_name(client.name), code=code, message=message
    )


def plan_bundle(
    repo: Repository, policy: Policy, firm: Environment, account: Account
) -> BundlePlan:
    """Every client of ``firm``, in code order, either in the user's bundle or left out
    with its reasons. A handful of bulk queries, whatever the number of clients."""
    plan = BundlePlan(firm)
    if firm.kind is not Kind.FIRM:
        return plan
    clients = sorted(repo.clients_of(firm.id), key=lambda env: env.code)
    wanted = {client.id for client in clients}
    members = {m.environment_id: m for m in repo.memberships_of(account.id)}
    members = {env_id: m for env_id, m in members.items() if env_id in wanted}
    functions = repo.functions_of([m.id for m in members.values()])
    open_connectors = {
        c.environment_id
        for c in repo.connectors(list(members))
        if c.name is ConnectorName.COMMUNICATION_CENTER and not c.blocked
    }
    for client in clients:
        member = members.get(client.id)
        if member is None:
            plan.skipped.append(not_a_member(client, firm, account.login))
            continue
        granted = functions.get(member.id, set())
        reasons = _reasons(
            client, firm, account.login, granted, client.id in open_connectors, policy.public_url
        )
        if not reasons:
            plan.included.append((client, member))
            continue
        administers = Function.APP_CONNECTOR in granted
        plan.skipped.append(
            skipped(client, reasons[0].code, " ".join(r.sentence(administers) for r in reasons))
        )
    return plan
