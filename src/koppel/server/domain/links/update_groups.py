"""A firm and its clients: the environments that must be on one update together.

An employee's agent works with the environments of one update only, and a firm's employees
link the firm and its clients. So converting one of them alone leaves the employees with
links on two updates, and neither agent works for all of them. Everything here names such
a group by its firm and proposes the one command that brings it together again:
``koppel-admin env convert FIRM --with-clients --to U``.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from koppel.i18n import gettext as _
from koppel.protocol.api import InstallationSource
from koppel.protocol.errors import ErrorCode
from koppel.protocol.functions import Function
from koppel.protocol.updates import Update
from koppel.server.domain.errors import DomainError
from koppel.server.domain.model import Environment, Kind
from koppel.server.domain.repository import Repository


def newest(updates: Iterable[str]) -> str:
    """The newest of some updates (``2026.10`` is newer than ``2026.9``)."""
    return str(max(Update.parse(u) for u in updates))


def convert_command(env: Environment, update: str) -> str:
    """The command that brings ``env``'s group to ``update``: the firm with its clients,
    or a client without a managing firm by itself."""
    parts = ["env", "convert", env.code]
    if env.kind is Kind.FIRM:
        parts.append("--with-clients")
    return "koppel-admin " + " ".join(shlex.quote(p) for p in [*parts, "--to", update])


@dataclass(frozen=True)
class Group:
    """A firm and its clients (firm first), or a client without a firm by itself."""

    firm: Environment | None
    environments: tuple[Environment, ...]

    @property
    def head(self) -> Environment:
        """The environment the group is converted through: the firm, else the lone client."""
        return self.firm or self.environments[0]

    @property
    def newest(self) -> str:
        """The newest update in the group."""
        return newest(e.update for e in self.environments)

    @property
    def uniform(self) -> bool:
        """Whether every environment of the group is on the same update."""
        return len({e.update for e in self.environments}) == 1

    def on(self, update: str) -> list[Environment]:
        """The environments of the group on ``update``."""
        return [e for e in self.environments if e.update == update]

    def spread(self) -> str:
        """How many are on which update, e.g. "1 on 2026.2, 2 on 2026.1" (newest first)."""
        updates = sorted({e.update for e in self.environments}, key=Update.parse, reverse=True)
        return ", ".join(f"{len(self.on(u))} on {u}" for u in updates)

    def fix(self, target: str | None = None) -> str:
        """The command that puts the whole group on ``target`` (at least its newest update)."""
        wanted = newest([self.newest, target]) if target else self.newest
        return convert_command(self.head, wanted)


def make_group(firm: Environment | None, clients: Sequence[Environment]) -> Group:
    """A firm with its clients in code order; ``firm`` None for a client without a firm."""
    ordered = tuple(sorted(clients, key=lambda e: e.code))
    return Group(firm, ordered if firm is None else (firm, *ordered))


def group_of(repo: Repository, env: Environment) -> Group:
    """The group ``env`` belongs to (read from the repository)."""
    return Advisor(repo).group(env)


@dataclass(frozen=True)
class LeftBehind:
    """After a conversion to ``target``: the environments of one firm's group left on
    another update, the employees with links on both sides, and the command to finish."""

    firm: str
    target: str
    environments: tuple[Environment, ...]
    employees: tuple[str, ...]
    fix: str

    def as_json(self) -> dict[str, object]:
        """The entry of ``left_behind`` in ``env convert --json``."""
        return {
            "firm": self.firm,
            "target": self.target,
            "environments": [{"code": e.code, "update": e.update} for e in self.environments],
            "employees": list(self.employees),
            "fix": self.fix,
        }


def left_behind(
    repo: Repository, converted: Sequence[Environment], target: str
) -> list[LeftBehind]:
    """For each firm group touched by a conversion to ``target``, what is not on it yet.

    ``converted`` are the environments named by the conversion, as they are now.
    """
    found: list[LeftBehind] = []
    seen: set[int] = set()
    for env in converted:
        group = group_of(repo, env)
        if group.head.id in seen:
            continue
        seen.add(group.head.id)
        behind = tuple(e for e in group.environments if e.update != target)
        if not behind:
            continue
        on_target = {e.id for e in group.environments if e.update == target}
        behind_ids = {e.id for e in behind}
        members = repo.members([e.id for e in group.environments])
        here = {m.account.login for m in members if m.membership.environment_id in on_target}
        there = {m.account.login for m in members if m.membership.environment_id in behind_ids}
        found.append(
            LeftBehind(
                group.head.code, target, behind, tuple(sorted(here & there)), group.fix(target)
            )
        )
    return found


def installation_source(
    repo: Repository, account_id: int, group: Group, update: str
) -> InstallationSource | None:
    """Where this account may "Save installation" for the agent of ``update`` within the
    group: an environment on that update where it holds the function, shown on a portal
    that exists (the environment's own, else the firm's main site). None: ask the
    administrator."""
    candidates = group.on(update)
    memberships = {
        m.membership.environment_id: m.membership.id
        for m in repo.members([e.id for e in candidates])
        if m.account.id == account_id
    }
    functions = repo.functions_of(list(memberships.values()))
    firm_site = group.firm.main_site_url if group.firm and group.firm.has_portal else None
    for env in candidates:  # the firm first: its portal is where employees start
        membership = memberships.get(env.id)
        if membership is None or Function.SAVE_INSTALLATION not in functions.get(membership, ()):
            continue
        portal = env.main_site_url if env.has_portal else firm_site
        if portal:
            return InstallationSource(environment=env.code, portal=portal)
    return None


def installation_hint(source: InstallationSource | None, update: str) -> str:
    """How to get the agent of ``update``, in words a user can follow (a sentence's start)."""
    if source is None:
        return _("Ask the administrator for the agent of update {update}").format(update=update)
    return _(
        '"Save installation" for {environment} on the portal {portal} (Communication Center)'
    ).format(environment=source.environment, portal=source.portal)


class Advisor:
    """Says what to do about an ``update_mismatch``, for many environments at once: each
    firm group and each user's installation source is read once per advisor."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self._firms: dict[int, Environment | None] = {}
        self._groups: dict[int, Group] = {}
        self._sources: dict[tuple[int, int, str], InstallationSource | None] = {}

    def firm_of(self, env: Environment) -> Environment | None:
        """The managing firm of a client (None for a firm or a client without one)."""
        if env.kind is Kind.FIRM or not env.firm_id:
            return None
        if env.firm_id not in self._firms:
            self._firms[env.firm_id] = self.repo.environment_by_id(env.firm_id)
        return self._firms[env.firm_id]

    def group(self, env: Environment) -> Group:
        """The group of ``env``."""
        firm = env if env.kind is Kind.FIRM else self.firm_of(env)
        if firm is None:
            return make_group(None, [env])
        if firm.id not in self._groups:
            self._groups[firm.id] = make_group(firm, self.repo.clients_of(firm.id))
        return self._groups[firm.id]

    def installation(self, env: Environment, account_id: int) -> InstallationSource | None:
        """Where this account gets the agent of ``env``'s update (None: ask the administrator)."""
        group = self.group(env)
        key = (group.head.id, account_id, env.update)
        if key not in self._sources:
            self._sources[key] = installation_source(self.repo, account_id, group, env.update)
        return self._sources[key]

    def mismatch(self, env: Environment, account_id: int, agent_update: str) -> DomainError:
        """The ``update_mismatch`` refusal, saying what to do for the environment's whole
        group: install the agent of its update, or have the group put on one update first."""
        group = self.group(env)
        said = _(
            "Environment {code} is on update {update} but this agent is on update {agent_update}."
        ).format(code=env.code, update=env.update, agent_update=agent_update)
        head = group.head
        if not group.uniform:
            target = group.newest
            advice = (
                _(
                    "{head} and its clients are not all on one update ({spread}) and an agent "
                    "works with one update only: ask the administrator to convert {head} with "
                    "its clients to update {target} (`{command}`), then install the agent of "
                    "update {target}; your links are kept."
                )
                if target != agent_update
                else _(
                    "{head} and its clients are not all on one update ({spread}) and an agent "
                    "works with one update only: ask the administrator to convert {head} with "
                    "its clients to update {target} (`{command}`); your links are kept."
                )
            )
            advice = advice.format(
                head=head.code, spread=group.spread(), target=target, command=group.fix()
            )
            return _mismatch(env, f"{said} {advice}")
        install = installation_hint(self.installation(env, account_id), env.update)
        if Update.parse(env.update) > Update.parse(agent_update):
            return _mismatch(
                env, _("{install}; your links are kept.").format(install=install), said
            )
        whole = _("{code} with its clients").format(code=head.code) if group.firm else head.code
        rest = _(
            "{install}, or ask the administrator to convert {whole} to update {agent_update} "
            "(`{command}`); your links are kept."
        ).format(
            install=install,
            whole=whole,
            agent_update=agent_update,
            command=group.fix(agent_update),
        )
        return _mismatch(env, rest, said)


def _mismatch(env: Environment, message: str, said: str = "") -> DomainError:
    # ``said`` (what is on which update) and what to do are two sentences.
    text = f"{said} {message}" if said else message
    return DomainError(ErrorCode.UPDATE_MISMATCH, text, environment=env.code)
