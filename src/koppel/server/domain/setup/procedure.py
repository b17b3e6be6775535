"""The procedure checklist: every set-up step of each environment, done or missing,
with the exact command that fixes a missing one (the help page, step by step)."""

from __future__ import annotations

import shlex
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from koppel.i18n import N_, ngettext
from koppel.i18n import gettext as _
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


def short_functions(functions: Sequence[Function]) -> str:
    """ "Save settings and My files": the functions' last words, as a list in a sentence."""
    words = [f.value.rsplit("/", 1)[-1] for f in functions]
    if len(words) < 2:
        return "".join(words)
    return _("{items} and {last}").format(items=", ".join(words[:-1]), last=words[-1])


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
                _(
                    "No environment {missing} on this server; list them with `koppel-admin env "
                    "list`."
                ).format(missing=", ".join(missing)),
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
    title = _("Central local environment address (API URL) recorded")
    server = policy.public_url if policy.address_known else "URL-OF-THIS-SERVER"
    if not env.api_url:
        return StepResult(
            "api-url",
            title,
            False,
            _("agents do not know where to reach this environment"),
            _cmd("env", "set-api-url", env.code, server),
        )
    if unspecified(host_of(env.api_url)):
        return StepResult(
            "api-url",
            title,
            False,
            _(
                "{address} is where the server listens, not an address another computer "
                "can use (there it means the computer itself); set KOPPEL_PUBLIC_URL of "
                "koppel-server to the address employees' computers reach it at, restart it "
                "and record that address"
            ).format(address=env.api_url),
            _cmd("env", "set-api-url", env.code, "URL-THAT-REACHES-THIS-SERVER"),
        )
    if policy.address_known and normalized(env.api_url) != normalized(policy.public_url):
        return StepResult(
            "api-url",
            title,
            False,
            _(
                "{address} is not this server's address {server}: employees' first link would fail"
            ).format(address=env.api_url, server=policy.public_url),
            _cmd("env", "set-api-url", env.code, policy.public_url),
        )
    answer = reach.get(env.api_url) if reach is not None else None
    if answer is not None and not answer.ok:
        return StepResult(
            "api-url",
            title,
            False,
            _(
                "{address}: {problem}. Start koppel-server if it is stopped; if "
                "employees' computers reach it at another address, set its KOPPEL_PUBLIC_URL "
                "to that address, restart it and record that address"
            ).format(address=env.api_url, problem=answer.detail),
            _cmd("env", "set-api-url", env.code, "URL-THAT-REACHES-THIS-SERVER"),
        )
    note = (
        _("{address} (answers as this server)")
        if answer is not None
        else _("{address} (not probed)")
    )
    return StepResult("api-url", title, True, note.format(address=env.api_url))


def _portal_step(env: Environment, facts: _Facts) -> StepResult:
    title = _("Users have portal (InSite) access")
    members = facts.members[env.id]
    if not members:
        return StepResult(
            "portal-access",
            title,
            False,
            _("the environment has no users yet"),
            _cmd("users", "add", env.code, "LOGIN"),
        )
    without = sorted(v.account.login for v in members if not v.membership.portal_access)
    if without:
        return StepResult(
            "portal-access",
            title,
            False,
            _("no portal access: {logins}").format(logins=", ".join(without)),
            _cmd("portal", "grant", env.code, "--all"),
        )
    return StepResult("portal-access", title, True, _users(len(members)))


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
    short = short_functions(required)
    title = (
        _("Firm employees authorized for {functions}")
        if env.kind is Kind.CLIENT
        else _("Users authorized for {functions}")
    ).format(functions=short)
    if not users:
        if env.kind is Kind.CLIENT and firm is not None:
            staff = sorted(v.account.login for v in facts.members[firm.id])
            args = [a for login in staff for a in ("--user", login)] or ["--user", "LOGIN"]
            fix = _cmd("setup", "client", env.code, "--firm", firm.code, *args)
        elif env.kind is Kind.CLIENT:
            fix = None  # the firm step comes first
        else:
            fix = _cmd("users", "add", env.code, "LOGIN")
        return StepResult("authorizations", title, False, _("no users to authorize yet"), fix)
    lacking = lacking_functions(users, facts.functions, required)
    if not lacking:
        return StepResult("authorizations", title, True, _users(len(users)))
    login, missing = lacking[0]
    fix_args = [a for f in missing for a in ("--function", f.value)]
    detail = "; ".join(
        _("{login}: missing {functions}").format(
            login=who_, functions=", ".join(f.value for f in fs)
        )
        for who_, fs in lacking
    )
    return StepResult(
        "authorizations",
        title,
        False,
        detail,
        _cmd("users", "authorize", env.code, login, *fix_args),
    )


def _connector_step(env: Environment, facts: _Facts) -> StepResult:
    title = _("Communication Center app connector open")
    if facts.blocked.get(env.id, True):
        return StepResult(
            "connector",
            title,
            False,
            _("App connector is blocked"),
            _cmd("connector", "unblock", env.code, str(ConnectorName.COMMUNICATION_CENTER)),
        )
    return StepResult("connector", title, True)


def _firm_main_site_step(env: Environment, policy: Policy) -> StepResult:
    title = _("Portal main site recorded")
    if not env.has_portal:
        return StepResult(
            "main-site",
            title,
            False,
            _("the firm environment has no portal recorded"),
            _cmd("env", "set", env.code, "--portal"),
        )
    if env.main_site_url:
        return _own_portal_site(env, title, policy)
    return StepResult(
        "main-site",
        title,
        False,
        _("no main site recorded"),
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
            _("{site} is the portal at another address than this server's ({expected})").format(
                site=site, expected=expected
            ),
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
    title = _("Managing firm recorded")
    if firm is not None:
        return StepResult("firm", title, True, firm.code)
    return StepResult(
        "firm", title, False, _("no managing firm"), _cmd("env", "set-firm", env.code, "FIRM")
    )


def _update_step(env: Environment, firm: Environment | None) -> StepResult:
    title = _("Same update as the firm environment")
    if firm is None:
        return StepResult("update", title, False, _("no managing firm to compare with"))
    if firm.update == env.update:
        return StepResult("update", title, True, env.update)
    detail = _("{code} is on {update}, {firm} on {firm_update}").format(
        code=env.code, update=env.update, firm=firm.code, firm_update=firm.update
    )
    if Update.parse(env.update) < Update.parse(firm.update):
        # Behind its firm: this client alone catches up.
        fix = _cmd("env", "convert", env.code, "--to", firm.update)
    else:
        # Ahead of its firm (converted alone): the firm and its other clients follow.
        fix = convert_command(firm, env.update)
        detail = _(
            "{code} is on {update}, {firm} on {firm_update}; convert {firm} with its clients "
            "to {update}"
        ).format(code=env.code, update=env.update, firm=firm.code, firm_update=firm.update)
    return StepResult("update", title, False, detail, fix)


def _clients_update_step(firm: Environment, clients: list[Environment]) -> StepResult:
    """A firm's employees link the firm and its clients with one agent, which works with one
    update only: the whole group must be on one update."""
    title = _("Clients on the same update as the firm")
    if not clients:
        return StepResult("clients-update", title, True, _("no clients"))
    group = make_group(firm, clients)
    if group.uniform:
        return StepResult(
            "clients-update",
            title,
            True,
            ngettext(
                "{count} client on {update}", "{count} clients on {update}", len(clients)
            ).format(count=len(clients), update=firm.update),
        )
    others = [f"{c.code} ({c.update})" for c in clients if c.update != firm.update]
    shown = ", ".join(others[:5])
    if len(others) > 5:
        shown = ngettext(
            "{listed} and {count} more", "{listed} and {count} more", len(others) - 5
        ).format(listed=shown, count=len(others) - 5)
    return StepResult(
        "clients-update",
        title,
        False,
        _(
            "not on {update} like {firm}: {clients}; an employee's agent works with one "
            "update only, so links on both updates cannot all work"
        ).format(update=firm.update, firm=firm.code, clients=shown),
        group.fix(),
    )


def _client_main_site_step(
    env: Environment, firm: Environment | None, policy: Policy
) -> StepResult:
    if env.has_portal:
        title = _("Portal main site recorded (own portal)")
        if env.main_site_url:
            return _own_portal_site(env, title, policy)
        return StepResult(
            "main-site",
            title,
            False,
            _("no main site recorded"),
            _cmd("env", "set-main-site", env.code, policy.portal_url(env.code)),
        )
    title = _("Main site recorded (the firm's portal)")
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
                _("{site} is the firm's portal at another address than this server's").format(
                    site=site
                ),
                _cmd("env", "set-main-site", env.code, current),
            )
        if derived and expected and normalized(site) != normalized(expected):
            return StepResult(
                "main-site",
                title,
                False,
                _("{site} is not the firm's main site {expected}").format(
                    site=site, expected=expected
                ),
                _cmd("env", "set-main-site", env.code, expected),
            )
        note = (
            site
            if expected in (None, site)
            else _("{site} (the firm's portal is {expected})").format(site=site, expected=expected)
        )
        return StepResult("main-site", title, True, note)
    return StepResult(
        "main-site",
        title,
        False,
        _("no main site recorded"),
        _cmd("env", "set-main-site", env.code, expected or "URL-OF-THE-FIRM-PORTAL"),
    )


_NO_SIZE = CatalogSize(0, 0)


def _dossier_step(env: Environment, firm: Environment | None, facts: _Facts) -> StepResult:
    """Whether the environment can receive documents: it has destinations and item types
    (a client gets them from its firm's dossier template)."""
    title = _("Dossier has destinations and item types (to receive documents)")
    own = facts.catalogs.get(env.id, _NO_SIZE)
    template = facts.templates.get(firm.id, _NO_SIZE) if firm is not None else None
    if own.destinations and own.item_types:
        detail = _sizes(own)
        if env.kind is Kind.FIRM:
            mine = facts.templates.get(env.id, _NO_SIZE)
            detail = (
                _("{sizes}; template for new clients: {template}").format(
                    sizes=detail, template=_sizes(mine)
                )
                if mine.destinations or mine.item_types
                else _("{sizes}; no template for new clients yet (`{command}` sets one)").format(
                    sizes=detail, command=_cmd("template", "copy-from", env.code, env.code)
                )
            )
        return StepResult("dossier", title, True, detail)
    sizes = (("destinations", own.destinations), ("item types", own.item_types))
    lacking = [what for what, count in sizes if not count]
    detail = _LACKING[tuple(lacking)]
    offered = template is not None and all(
        getattr(template, what.replace(" ", "_")) for what in lacking
    )
    if firm is not None and offered:
        return StepResult(
            "dossier",
            title,
            False,
            _("{problem}; the dossier template of {firm} has them").format(
                problem=_(detail), firm=firm.code
            ),
            _cmd("template", "apply", firm.code, "--client", env.code),
        )
    shown = _(detail)
    if firm is not None:
        shown = _(
            "{problem}; {firm} has no dossier template that gives them "
            "(`{command}` takes an environment's)"
        ).format(
            problem=shown, firm=firm.code, command=_cmd("template", "copy-from", firm.code, "ENV")
        )
    fix = (
        _cmd("destinations", "import", env.code, "FILE.csv")
        if not own.destinations
        else _cmd("item-types", "create", env.code, "NAME")
    )
    return StepResult("dossier", title, False, shown, fix)


# What an environment lacks to receive documents (translated where shown).
_LACKING = {
    ("destinations", "item types"): N_(
        "no destinations and no item types: employees cannot submit documents to it yet"
    ),
    ("destinations",): N_("no destinations: employees cannot submit documents to it yet"),
    ("item types",): N_("no item types: employees cannot submit documents to it yet"),
}


def _users(count: int) -> str:
    return ngettext("{count} user", "{count} users", count).format(count=count)


def _sizes(size: CatalogSize) -> str:
    """ "3 destinations, 1 item type" in the request's language."""
    destinations = ngettext(
        "{count} destination", "{count} destinations", size.destinations
    ).format(count=size.destinations)
    item_types = ngettext("{count} item type", "{count} item types", size.item_types).format(
        count=size.item_types
    )
    return _("{destinations}, {item_types}").format(
        destinations=destinations, item_types=item_types
    )
