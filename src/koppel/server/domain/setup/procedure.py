"""The procedure checklist: every set-up step of each environment, done or missing,
with the exact command that fixes a missing one (the help page, step by step)."""

from __future__ import annotations

import shlex
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from koppel.protocol.counts import counted
from koppel.protocol.errors import ErrorCode
from koppel.protocol.functions import LINK_FUNCTIONS, Function
from koppel.protocol.updates import Update
from koppel.server.domain import names
from koppel.server.domain.dossier.template import CatalogSize, CatalogSizes
from koppel.server.domain.errors import DomainError
from koppel.server.domain.links.update_groups import convert_command, make_group
from koppel.server.domain.model import ConnectorName, Environment, Kind, MemberView
from koppel.server.domain.policy import Policy
from koppel.server.domain.repository import Repository
from koppel.server.domain.setup.host import Reach, host_of, normalized, unspecified

# What a firm's own users need to install the agent and link the firm environment.
FIRM_FUNCTIONS: tuple[Function, ...] = (
    Function.MY_FILES,
    Function.SAVE_SETTINGS,
    Function.SAVE_INSTALLATION,
)


@dataclass(frozen=True)
class StepResult:
    """One step of one environment's procedure."""

    key: str
    title: str
    done: bool
    detail: str = ""
    fix: str | None = None


@dataclass
class EnvironmentCheck:
    """Every step of one environment."""

    code: str
    name: str
    kind: Kind
    update: str
    steps: list[StepResult] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Whether every step is done."""
        return all(step.done for step in self.steps)


def _cmd(*parts: str) -> str:
    return "koppel-admin " + " ".join(shlex.quote(p) for p in parts)


@dataclass
class _Facts:
    """Everything the checks read, loaded in a handful of bulk queries."""

    members: dict[int, list[MemberView]]
    functions: dict[int, set[Function]]
    blocked: dict[int, bool]
    firms: dict[int, Environment]
    clients: dict[int, list[Environment]]
    # Destinations and item types of each environment, and of each firm's template.
    catalogs: Mapping[int, CatalogSize]
    templates: Mapping[int, CatalogSize]
    # What answered at each recorded API URL; None when the addresses were not probed.
    reach: Mapping[str, Reach] | None = None


# Asks every address (once each) whether it reaches this host.
Probe = Callable[[Sequence[str]], Mapping[str, Reach]]


def check_environments(
    repo: Repository,
    policy: Policy,
    codes: Sequence[str] | None = None,
    probe: Probe | None = None,
    *,
    catalogs: CatalogSizes,
) -> list[EnvironmentCheck]:
    """Check the named environments (all when ``codes`` is None), in code order;
    ``catalogs`` tells how many destinations and item types each has. With a ``probe``,
    each recorded API URL must also answer as this host."""
    wanted = [names.environment_code(c) for c in codes] if codes is not None else None
    envs = repo.environments(wanted)
    if wanted is not None:
        missing = sorted(set(wanted) - {e.code for e in envs})
        if missing:
            raise DomainError(
                ErrorCode.UNKNOWN_ENVIRONMENT,
                f"No environment {', '.join(missing)} on this server; list them with "
                "`koppel-admin env list`.",
                environment=missing[0],
            )
    facts = _load_facts(repo, envs, catalogs, complete=wanted is None)
    if probe is not None:
        facts.reach = probe(sorted({e.api_url for e in envs if e.api_url}))
    return [_check(env, facts, policy) for env in envs]


def _load_facts(
    repo: Repository, envs: list[Environment], catalogs: CatalogSizes, complete: bool
) -> _Facts:
    """``complete``: ``envs`` are all the environments (so every firm's clients are among
    them); otherwise the clients of the firms checked are read firm by firm."""
    firms = {e.id: e for e in envs if e.kind is Kind.FIRM}
    clients: dict[int, list[Environment]] = defaultdict(list)
    if complete:
        for env in envs:
            if env.kind is Kind.CLIENT and env.firm_id:
                clients[env.firm_id].append(env)
    else:
        for firm_id in firms:
            clients[firm_id] = repo.clients_of(firm_id)
    for firm_id in {e.firm_id for e in envs if e.firm_id and e.firm_id not in firms}:
        firm = repo.environment_by_id(firm_id) if firm_id else None
        if firm:
            firms[firm.id] = firm
    env_ids = sorted({e.id for e in envs} | set(firms))
    members: dict[int, list[MemberView]] = defaultdict(list)
    for view in repo.members(env_ids):
        members[view.membership.environment_id].append(view)
    functions = repo.functions_of([v.membership.id for vs in members.values() for v in vs])
    blocked = {
        c.environment_id: c.blocked
        for c in repo.connectors([e.id for e in envs])
        if c.name is ConnectorName.COMMUNICATION_CENTER
    }
    return _Facts(
        members,
        functions,
        blocked,
        firms,
        clients,
        catalogs.catalog_sizes([e.id for e in envs]),
        catalogs.template_sizes(list(firms)),
    )


def _check(env: Environment, facts: _Facts, policy: Policy) -> EnvironmentCheck:
    result = EnvironmentCheck(env.code, env.name, env.kind, env.update)
    result.steps.append(_api_url_step(env, policy, facts.reach))
    if env.kind is Kind.FIRM:
        result.steps += [
            _portal_step(env, facts),
            _authorization_step(env, facts.members[env.id], facts, FIRM_FUNCTIONS, None),
            _connector_step(env, facts),
            _firm_main_site_step(env, policy),
            _clients_update_step(env, facts.clients[env.id]),
            _dossier_step(env, None, facts),
        ]
    else:
        firm = facts.firms.get(env.firm_id) if env.firm_id else None
        result.steps += [_firm_step(env, firm), _update_step(env, firm)]
        employees = _firm_employees(env, firm, facts)
        result.steps += [
            _authorization_step(env, employees, facts, LINK_FUNCTIONS, firm),
            _connector_step(env, facts),
            _client_main_site_step(env, firm, policy),
            _dossier_step(env, firm, facts),
        ]
    return result


def _api_url_step(
    env: Environment, policy: Policy, reach: Mapping[str, Reach] | None
) -> StepResult:
    title = "Central local environment address (API URL) recorded"
    server = policy.public_url if policy.address_known else "URL-OF-THIS-SERVER"
    if not env.api_url:
        return StepResult(
            "api-url",
            title,
            False,
            "agents do not know where to reach this environment",
            _cmd("env", "set-api-url", env.code, server),
        )
    if unspecified(host_of(env.api_url)):
        return StepResult(
            "api-url",
            title,
            False,
            f"{env.api_url} is where the server listens, not an address another computer "
            "can use (there it means the computer itself); set KOPPEL_PUBLIC_URL of "
            "koppel-server to the address employees' computers reach it at, restart it "
            "and record that address",
            _cmd("env", "set-api-url", env.code, "URL-THAT-REACHES-THIS-SERVER"),
        )
    if policy.address_known and normalized(env.api_url) != normalized(policy.public_url):
        return StepResult(
            "api-url",
            title,
            False,
            f"{env.api_url} is not this server's address {policy.public_url}: "
            "employees' first link would fail",
            _cmd("env", "set-api-url", env.code, policy.public_url),
        )
    answer = reach.get(env.api_url) if reach is not None else None
    if answer is not None and not answer.ok:
        return StepResult(
            "api-url",
            title,
            False,
            f"{env.api_url} {answer.detail}. Start koppel-server if it is stopped; if "
            "employees' computers reach it at another address, set its KOPPEL_PUBLIC_URL "
            "to that address, restart it and record that address",
            _cmd("env", "set-api-url", env.code, "URL-THAT-REACHES-THIS-SERVER"),
        )
    note = " (answers as this server)" if answer is not None else " (not probed)"
    return StepResult("api-url", title, True, env.api_url + note)


def _portal_step(env: Environment, facts: _Facts) -> StepResult:
    title = "Users have portal (InSite) access"
    members = facts.members[env.id]
    if not members:
        return StepResult(
            "portal-access",
            title,
            False,
            "the environment has no users yet",
            _cmd("users", "add", env.code, "LOGIN"),
        )
    without = sorted(v.account.login for v in members if not v.membership.portal_access)
    if without:
        return StepResult(
            "portal-access",
            title,
            False,
            "no portal access: " + ", ".join(without),
            _cmd("portal", "grant", env.code, "--all"),
        )
    return StepResult("portal-access", title, True, counted(len(members), "user"))


def _firm_employees(env: Environment, firm: Environment | None, facts: _Facts) -> list[MemberView]:
    if firm is None:
        return []
    staff = {v.account.id for v in facts.members[firm.id]}
    return [v for v in facts.members[env.id] if v.account.id in staff]


def lacking_functions(
    users: Sequence[MemberView],
    functions: Mapping[int, set[Function]],
    required: Sequence[Function],
) -> list[tuple[str, list[Function]]]:
    """Per login (in order), the required functions that user does not hold yet."""
    lacking: list[tuple[str, list[Function]]] = []
    for view in sorted(users, key=lambda v: v.account.login):
        held = functions.get(view.membership.id, set())
        missing = [f for f in required if f not in held]
        if missing:
            lacking.append((view.account.login, missing))
    return lacking


def _authorization_step(
    env: Environment,
    users: list[MemberView],
    facts: _Facts,
    required: tuple[Function, ...],
    firm: Environment | None,
) -> StepResult:
    short = " and ".join(f.value.rsplit("/", 1)[-1] for f in required)
    who = "Firm employees" if env.kind is Kind.CLIENT else "Users"
    title = f"{who} authorized for {short}"
    if not users:
        if env.kind is Kind.CLIENT and firm is not None:
            staff = sorted(v.account.login for v in facts.members[firm.id])
            args = [a for login in staff for a in ("--user", login)] or ["--user", "LOGIN"]
            fix = _cmd("setup", "client", env.code, "--firm", firm.code, *args)
        elif env.kind is Kind.CLIENT:
            fix = None  # the firm step comes first
        else:
            fix = _cmd("users", "add", env.code, "LOGIN")
        return StepResult("authorizations", title, False, "no users to authorize yet", fix)
    lacking = lacking_functions(users, facts.functions, required)
    if not lacking:
        return StepResult("authorizations", title, True, counted(len(users), "user"))
    login, missing = lacking[0]
    fix_args = [a for f in missing for a in ("--function", f.value)]
    detail = "; ".join(f"{who_}: missing " + ", ".join(f.value for f in fs) for who_, fs in lacking)
    return StepResult(
        "authorizations",
        title,
        False,
        detail,
        _cmd("users", "authorize", env.code, login, *fix_args),
    )


def _connector_step(env: Environment, facts: _Facts) -> StepResult:
    title = "Communication Center app connector open"
    if facts.blocked.get(env.id, True):
        return StepResult(
            "connector",
            title,
            False,
            "App connector is blocked",
            _cmd("connector", "unblock", env.code, str(ConnectorName.COMMUNICATION_CENTER)),
        )
    return StepResult("connector", title, True)


def _firm_main_site_step(env: Environment, policy: Policy) -> StepResult:
    title = "Portal main site recorded"
    if not env.has_portal:
        return StepResult(
            "main-site",
            title,
            False,
            "the firm environment has no portal recorded",
            _cmd("env", "set", env.code, "--portal"),
        )
    if env.main_site_url:
        return _own_portal_site(env, title, policy)
    return StepResult(
        "main-site",
        title,
        False,
        "no main site recorded",
        _cmd("env", "set-main-site", env.code, policy.portal_url(env.code)),
    )


def _own_portal_site(env: Environment, title: str, policy: Policy) -> StepResult:
    """A recorded main site of an environment with its own portal: a portal address of
    this server must be at the server's current address."""
    site = env.main_site_url or ""
    expected = policy.portal_url(env.code)
    if policy.is_portal_address(site, env.code) and _moved(site, policy):
        return StepResult(
            "main-site",
            title,
            False,
            f"{site} is the portal at another address than this server's ({expected})",
            _cmd("env", "set-main-site", env.code, expected),
        )
    return StepResult("main-site", title, True, site)


def _moved(site: str, policy: Policy) -> bool:
    """Whether a portal address of this server is at another address than its current
    one (unknowable when the server's address is not known)."""
    return policy.address_known and not normalized(site).startswith(
        normalized(policy.public_url) + "/"
    )


def _firm_step(env: Environment, firm: Environment | None) -> StepResult:
    title = "Managing firm recorded"
    if firm is not None:
        return StepResult("firm", title, True, firm.code)
    return StepResult(
        "firm", title, False, "no managing firm", _cmd("env", "set-firm", env.code, "FIRM")
    )


def _update_step(env: Environment, firm: Environment | None) -> StepResult:
    title = "Same update as the firm environment"
    if firm is None:
        return StepResult("update", title, False, "no managing firm to compare with")
    if firm.update == env.update:
        return StepResult("update", title, True, env.update)
    detail = f"{env.code} is on {env.update}, {firm.code} on {firm.update}"
    if Update.parse(env.update) < Update.parse(firm.update):
        # Behind its firm: this client alone catches up.
        fix = _cmd("env", "convert", env.code, "--to", firm.update)
    else:
        # Ahead of its firm (converted alone): the firm and its other clients follow.
        fix = convert_command(firm, env.update)
        detail += f"; convert {firm.code} with its clients to {env.update}"
    return StepResult("update", title, False, detail, fix)


def _clients_update_step(firm: Environment, clients: list[Environment]) -> StepResult:
    """A firm's employees link the firm and its clients with one agent, which works with one
    update only: the whole group must be on one update."""
    title = "Clients on the same update as the firm"
    if not clients:
        return StepResult("clients-update", title, True, "no clients")
    group = make_group(firm, clients)
    if group.uniform:
        return StepResult(
            "clients-update", title, True, f"{counted(len(clients), 'client')} on {firm.update}"
        )
    others = [f"{c.code} ({c.update})" for c in clients if c.update != firm.update]
    shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
    return StepResult(
        "clients-update",
        title,
        False,
        f"not on {firm.update} like {firm.code}: {shown}; an employee's agent works with one "
        "update only, so links on both updates cannot all work",
        group.fix(),
    )


def _client_main_site_step(
    env: Environment, firm: Environment | None, policy: Policy
) -> StepResult:
    if env.has_portal:
        title = "Portal main site recorded (own portal)"
        if env.main_site_url:
            return _own_portal_site(env, title, policy)
        return StepResult(
            "main-site",
            title,
            False,
            "no main site recorded",
            _cmd("env", "set-main-site", env.code, policy.portal_url(env.code)),
        )
    title = "Main site recorded (the firm's portal)"
    expected = firm.main_site_url if firm else None
    if env.main_site_url:
        site = env.main_site_url
        derived = firm is not None and policy.is_portal_address(site, firm.code)
        if firm is not None and derived and _moved(site, policy):
            current = policy.portal_url(firm.code)
            return StepResult(
                "main-site",
                title,
                False,
                f"{site} is the firm's portal at another address than this server's",
                _cmd("env", "set-main-site", env.code, current),
            )
        if derived and expected and normalized(site) != normalized(expected):
            return StepResult(
                "main-site",
                title,
                False,
                f"{site} is not the firm's main site {expected}",
                _cmd("env", "set-main-site", env.code, expected),
            )
        note = "" if expected in (None, site) else f" (the firm's portal is {expected})"
        return StepResult("main-site", title, True, site + note)
    return StepResult(
        "main-site",
        title,
        False,
        "no main site recorded",
        _cmd("env", "set-main-site", env.code, expected or "URL-OF-THE-FIRM-PORTAL"),
    )


_NO_SIZE = CatalogSize(0, 0)


def _dossier_step(env: Environment, firm: Environment | None, facts: _Facts) -> StepResult:
    """Whether the environment can receive documents: it has destinations and item types
    (a client gets them from its firm's dossier template)."""
    title = "Dossier has destinations and item types (to receive documents)"
    own = facts.catalogs.get(env.id, _NO_SIZE)
    template = facts.templates.get(firm.id, _NO_SIZE) if firm is not None else None
    if own.destinations and own.item_types:
        detail = (
            f"{counted(own.destinations, 'destination')}, {counted(own.item_types, 'item type')}"
        )
        if env.kind is Kind.FIRM:
            mine = facts.templates.get(env.id, _NO_SIZE)
            detail += (
                f"; template for new clients: {counted(mine.destinations, 'destination')}, "
                f"{counted(mine.item_types, 'item type')}"
                if mine.destinations or mine.item_types
                else "; no template for new clients yet "
                f"(`{_cmd('template', 'copy-from', env.code, env.code)}` sets one)"
            )
        return StepResult("dossier", title, True, detail)
    sizes = (("destinations", own.destinations), ("item types", own.item_types))
    lacking = [what for what, count in sizes if not count]
    detail = f"no {' and no '.join(lacking)}: employees cannot submit documents to it yet"
    offered = template is not None and all(
        getattr(template, what.replace(" ", "_")) for what in lacking
    )
    if firm is not None and offered:
        return StepResult(
            "dossier",
            title,
            False,
            f"{detail}; the dossier template of {firm.code} has them",
            _cmd("template", "apply", firm.code, "--client", env.code),
        )
    if firm is not None:
        detail += (
            f"; {firm.code} has no dossier template that gives them "
            f"(`{_cmd('template', 'copy-from', firm.code, 'ENV')}` takes an environment's)"
        )
    fix = (
        _cmd("destinations", "import", env.code, "FILE.csv")
        if not own.destinations
        else _cmd("item-types", "create", env.code, "NAME")
    )
    return StepResult("dossier", title, False, detail, fix)
