"""A firm's dossier template: the destinations and item types its client environments
start with, so that a new client can receive documents from the first day.

``setup client`` copies the template into a client that has no destinations or no item
types yet (:func:`fill_new_client`); ``template apply`` copies it into existing clients
(:func:`apply`). A copy never changes or duplicates what a client has: a part (the
destinations, the item types) the client already has is left as it is, and with
``add_missing`` only the codes and names it lacks are added. A destination of kind
``organisation`` stands for the environment itself: its copy takes the client's name.
Groups belong to each environment, so an item type names its groups and a copy makes a
group the client lacks (with no members: who is in it is the client's decision).

Every change of a template and every copy is audited; nothing is when nothing changes.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from koppel.protocol.errors import ErrorCode
from koppel.server.domain import lookups
from koppel.server.domain.audit import record
from koppel.server.domain.dossier.model import (
    DESTINATION_KINDS,
    Destination,
    DossierRepository,
    ItemType,
)
from koppel.server.domain.errors import DomainError
from koppel.server.domain.model import Environment, Kind
from koppel.server.domain.setup.administration import Admin, Outcome

ORGANISATION = "organisation"


@dataclass(frozen=True)
class TemplateDestination:
    """A destination of the template (``organisation``: the client itself)."""

    code: str
    name: str
    kind: str


@dataclass(frozen=True)
class TemplateItemType:
    """An item type of the template; ``groups`` are group names."""

    name: str
    editable: bool = False
    confidential: bool = False
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class DossierTemplate:
    """A firm's template, destinations ordered by code and item types by name."""

    firm: str
    destinations: tuple[TemplateDestination, ...]
    item_types: tuple[TemplateItemType, ...]

    @property
    def empty(self) -> bool:
        """Whether the template holds nothing at all."""
        return not self.destinations and not self.item_types


class CatalogSize(NamedTuple):
    """How many destinations and item types an environment (or a template) has."""

    destinations: int
    item_types: int


class CatalogSizes(Protocol):
    """What ``koppel-admin check`` reads, in bulk."""

    def catalog_sizes(self, environment_ids: Sequence[int]) -> Mapping[int, CatalogSize]:
        """Per environment, its own destinations and item types (absent: none)."""
        ...

    def template_sizes(self, firm_ids: Sequence[int]) -> Mapping[int, CatalogSize]:
        """Per firm, the size of its template (absent: empty)."""
        ...


class TemplateRepository(CatalogSizes, Protocol):
    """Storage of the firms' templates, within one unit of work."""

    def destinations(self, firm_id: int) -> list[TemplateDestination]:
        """The template's destinations, ordered by code."""
        ...

    def item_types(self, firm_id: int) -> list[TemplateItemType]:
        """The template's item types, ordered by name."""
        ...

    def save_destination(self, firm_id: int, destination: TemplateDestination) -> None:
        """Store a destination, replacing the one of that code."""
        ...

    def add_item_type(self, firm_id: int, item_type: TemplateItemType) -> None:
        """Store a new item type."""
        ...

    def remove_destination(self, firm_id: int, code: str) -> None:
        """Drop the destination of that code."""
        ...

    def remove_item_type(self, firm_id: int, name: str) -> None:
        """Drop the item type of that (exact) name."""
        ...


# --- reading


def _stores(admin: Admin) -> tuple[DossierRepository, TemplateRepository]:
    if admin.dossier is None or admin.templates is None:
        raise RuntimeError("Admin needs dossier and templates for dossier template operations")
    return admin.dossier, admin.templates


def _firm(admin: Admin, code: str) -> Environment:
    env = lookups.environment(admin.repo, code)
    if env.kind is not Kind.FIRM:
        raise DomainError(
            ErrorCode.NOT_A_FIRM,
            f"{env.code} is a client environment; a dossier template belongs to a firm "
            "(give the firm's environment code).",
            environment=env.code,
        )
    return env


def _template(templates: TemplateRepository, firm: Environment) -> DossierTemplate:
    return DossierTemplate(
        firm.code, tuple(templates.destinations(firm.id)), tuple(templates.item_types(firm.id))
    )


def template_of(admin: Admin, firm: str) -> DossierTemplate:
    """A firm's template (empty when none was set)."""
    _, templates = _stores(admin)
    return _template(templates, _firm(admin, firm))


def _counted(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def describe(template: DossierTemplate) -> str:
    """``2 destinations, 3 item types`` (or ``empty``)."""
    if template.empty:
        return "empty"
    return (
        f"{_counted(len(template.destinations), 'destination')}, "
        f"{_counted(len(template.item_types), 'item type')}"
    )


# --- changing a template


def _destination(code: str, name: str, kind: str) -> TemplateDestination:
    code, name, kind = code.strip(), name.strip(), kind.strip().lower()
    if not code or not name or len(code) > 40 or len(name) > 200:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            "Give the destination a code of 1 to 40 characters and a name of 1 to 200.",
        )
    if kind not in DESTINATION_KINDS:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            f"Kind {kind!r} is not one of {', '.join(DESTINATION_KINDS)}.",
        )
    return TemplateDestination(code, name, kind)


def _item_type(
    name: str, editable: bool, confidential: bool, groups: Sequence[str]
) -> TemplateItemType:
    name = name.strip()
    if not name or len(name) > 100:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR, "Give the item type a name of 1 to 100 characters."
        )
    names: list[str] = []
    for group in groups:
        group = group.strip()
        if not group or len(group) > 100:
            raise DomainError(
                ErrorCode.VALIDATION_ERROR, "Give group names of 1 to 100 characters."
            )
        if group not in names:
            names.append(group)
    if confidential and not names:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            "A confidential item type needs at least one --group: only its members may see "
            "its items.",
        )
    return TemplateItemType(name, editable, confidential, tuple(sorted(names)))


def add_destination(admin: Admin, firm: str, code: str, name: str, kind: str) -> Outcome:
    """Add a destination to a firm's template, or change the name or kind of the one
    with that code."""
    _, templates = _stores(admin)
    env = _firm(admin, firm)
    wanted = _destination(code, name, kind)
    found = next((d for d in templates.destinations(env.id) if d.code == wanted.code), None)
    if found == wanted:
        return Outcome(False, f"destination {wanted.code} is already in the template of {env.code}")
    templates.save_destination(env.id, wanted)
    action = "template.destination.add" if found is None else "template.destination.update"
    record(
        admin.repo,
        admin.policy,
        admin.actor,
        action,
        env.code,
        code=wanted.code,
        name=wanted.name,
        kind=wanted.kind,
    )
    word = "added to" if found is None else "changed in"
    return Outcome(True, f"destination {wanted.code} {word} the template of {env.code}")


def add_item_type(
    admin: Admin,
    firm: str,
    name: str,
    *,
    editable: bool = False,
    confidential: bool = False,
    groups: Sequence[str] = (),
) -> Outcome:
    """Add an item type to a firm's template (one of that name, in any case, is left as
    it is: remove it first to change it)."""
    _, templates = _stores(admin)
    env = _firm(admin, firm)
    wanted = _item_type(name, editable, confidential, groups)
    for found in templates.item_types(env.id):
        if found.name.lower() == wanted.name.lower():
            return Outcome(
                False,
                f"item type {found.name!r} is already in the template of {env.code} (left as "
                f"it is; `koppel-admin template remove {env.code} --item-type NAME` first to "
                "change it)",
            )
    templates.add_item_type(env.id, wanted)
    record(
        admin.repo,
        admin.policy,
        admin.actor,
        "template.item_type.add",
        env.code,
        name=wanted.name,
        editable=wanted.editable,
        confidential=wanted.confidential,
        groups=list(wanted.groups),
    )
    return Outcome(True, f"item type {wanted.name!r} added to the template of {env.code}")


def remove(
    admin: Admin, firm: str, destinations: Sequence[str], item_types: Sequence[str]
) -> Outcome:
    """Take destinations (by code) and item types (by name, any case) out of a firm's
    template; clients keep what was copied into them. Refused, changing nothing, when
    one of them is not in the template."""
    _, templates = _stores(admin)
    env = _firm(admin, firm)
    current = _template(templates, env)
    codes = {d.code: d for d in current.destinations}
    types = {t.name.lower(): t for t in current.item_types}
    unknown = [f"destination {c!r}" for c in destinations if c.strip() not in codes]
    unknown += [f"item type {n!r}" for n in item_types if n.strip().lower() not in types]
    if unknown:
        raise DomainError(
            ErrorCode.NOT_FOUND,
            f"The template of {env.code} has no {', '.join(unknown)}; "
            f"`koppel-admin template show {env.code}` lists what it has.",
            environment=env.code,
        )
    gone_codes = sorted({c.strip() for c in destinations})
    gone_types = sorted({types[n.strip().lower()].name for n in item_types})
    for code in gone_codes:
        templates.remove_destination(env.id, code)
    for name in gone_types:
        templates.remove_item_type(env.id, name)
    record(
        admin.repo,
        admin.policy,
        admin.actor,
        "template.remove",
        env.code,
        destinations=gone_codes,
        item_types=gone_types,
    )
    what = [f"destination {c}" for c in gone_codes] + [f"item type {n!r}" for n in gone_types]
    return Outcome(True, f"removed from the template of {env.code}: {', '.join(what)}")


def copy_from(admin: Admin, firm: str, source: str) -> Outcome:
    """Make a firm's template exactly the destinations and item types (with their group
    names) of an environment, e.g. the firm's own or a model client's."""
    dossier, templates = _stores(admin)
    env = _firm(admin, firm)
    origin = lookups.environment(admin.repo, source)
    group_names = {g.id: g.name for g in admin.repo.groups(origin.id)}
    destinations = [
        TemplateDestination(d.code, d.name, d.kind) for d in dossier.destinations(origin.id)
    ]
    item_types = [
        TemplateItemType(
            t.name, t.editable, t.confidential, tuple(sorted(group_names[g] for g in t.group_ids))
        )
        for t in dossier.item_types(origin.id)
    ]
    if not destinations and not item_types:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            f"{origin.code} has no destinations or item types to copy; add them there first, "
            f"or build the template with `koppel-admin template add-destination {env.code} "
            "...` and `template add-item-type`.",
            environment=origin.code,
        )
    current = _template(templates, env)
    wanted_codes = {d.code for d in destinations}
    wanted_types = {t.name for t in item_types}
    changed = 0
    for old in current.destinations:
        if old.code not in wanted_codes:
            templates.remove_destination(env.id, old.code)
            changed += 1
    for old_type in current.item_types:
        if old_type.name not in wanted_types or old_type not in item_types:
            templates.remove_item_type(env.id, old_type.name)
            changed += 1
    for destination in destinations:
        if destination not in current.destinations:
            templates.save_destination(env.id, destination)
            changed += 1
    for item_type in item_types:
        if item_type not in current.item_types:
            templates.add_item_type(env.id, item_type)
            changed += 1
    result = _template(templates, env)
    if not changed:
        return Outcome(
            False,
            f"the template of {env.code} is already that of {origin.code} ({describe(result)})",
        )
    record(
        admin.repo,
        admin.policy,
        admin.actor,
        "template.copy_from",
        env.code,
        source=origin.code,
        destinations=[d.code for d in result.destinations],
        item_types=[t.name for t in result.item_types],
    )
    return Outcome(
        True,
        f"the template of {env.code} is now that of {origin.code}: {describe(result)}; "
        f"new clients get it, `koppel-admin template apply {env.code} --all-clients` gives "
        "it to clients without destinations or item types",
    )


# --- copying a template into clients


def _copy_into(
    admin: Admin, template: DossierTemplate, env: Environment, add_missing: bool
) -> list[Outcome]:
    """Copy the template into one client without changing or duplicating anything."""
    dossier, _ = _stores(admin)
    have_destinations = dossier.destinations(env.id)
    have_types = dossier.item_types(env.id)
    codes = {d.code for d in have_destinations}
    type_names = {t.name.lower() for t in have_types}
    new_destinations = [
        d
        for d in template.destinations
        if (not have_destinations or add_missing) and d.code not in codes
    ]
    new_types = [
        t
        for t in template.item_types
        if (not have_types or add_missing) and t.name.lower() not in type_names
    ]
    if not new_destinations and not new_types:
        return [Outcome(False, _nothing_copied(template, env, have_destinations, have_types))]
    outcomes: list[Outcome] = []
    group_ids: dict[str, int] = {}
    for name in sorted({g for t in new_types for g in t.groups}):
        group = admin.repo.group(env.id, name)
        if group is None:
            outcomes.append(admin.create_group(env.code, name))
            outcomes[-1] = Outcome(
                True,
                f"{outcomes[-1].message} for the template's item types (no members yet: "
                f"`koppel-admin groups add-member {env.code} {shlex.quote(name)} LOGIN`)",
            )
            group = admin.repo.group(env.id, name)
            assert group is not None  # just made in this transaction
        group_ids[name] = group.id
    for d in new_destinations:
        name = env.name if d.kind == ORGANISATION else d.name
        dossier.add_destination(Destination(env.id, d.code, name, d.kind))
    for t in new_types:
        dossier.add_item_type(
            ItemType(
                env.id,
                t.name,
                t.editable,
                t.confidential,
                frozenset(group_ids[g] for g in t.groups),
            )
        )
    record(
        admin.repo,
        admin.policy,
        admin.actor,
        "template.apply",
        env.code,
        firm=template.firm,
        destinations=[d.code for d in new_destinations],
        item_types=[t.name for t in new_types],
    )
    copied = [_counted(len(new_destinations), "destination")] if new_destinations else []
    copied += [_counted(len(new_types), "item type")] if new_types else []
    kept = []
    if have_destinations:
        kept.append(f"its own {_counted(len(have_destinations), 'destination')}")
    if have_types:
        kept.append(f"its own {_counted(len(have_types), 'item type')}")
    note = f" ({' and '.join(kept)} kept)" if kept else ""
    outcomes.append(
        Outcome(
            True,
            f"dossier template of {template.firm} copied into {env.code}: "
            f"{' and '.join(copied)}{note}",
        )
    )
    return outcomes


def _nothing_copied(
    template: DossierTemplate,
    env: Environment,
    have_destinations: Sequence[Destination],
    have_types: Sequence[ItemType],
) -> str:
    lacking = [
        what
        for what, has, offered in (
            ("destinations", have_destinations, template.destinations),
            ("item types", have_types, template.item_types),
        )
        if not has and not offered
    ]
    if lacking:
        missing = " and no ".join(lacking)
        return (
            f"{env.code} has no {missing} and the template of {template.firm} has none to "
            f"give (`koppel-admin check {env.code}` shows how to add them)"
        )
    return (
        f"{env.code} already has destinations and item types; the template of "
        f"{template.firm} is not copied over them (`koppel-admin template apply "
        f"{template.firm} --client {env.code} --add-missing` adds the codes and names it lacks)"
    )


def fill_new_client(admin: Admin, env: Environment, firm: Environment) -> list[Outcome]:
    """What ``setup client`` does for the dossier: copy the firm's template into a client
    that has no destinations or no item types yet; say so when it cannot receive
    documents and the firm has no template to give it."""
    dossier, templates = _stores(admin)
    template = _template(templates, firm)
    lacking = [
        what
        for what, found in (
            ("destinations", dossier.destinations(env.id)),
            ("item types", dossier.item_types(env.id)),
        )
        if not found
    ]
    if not lacking:
        return []
    if template.empty:
        return [
            Outcome(
                False,
                f"{env.code} has no {' and no '.join(lacking)} yet, so employees cannot submit "
                f"documents to it, and {firm.code} has no dossier template to copy: set one "
                f"with `koppel-admin template copy-from {firm.code} ENV` (e.g. ENV = "
                f"{firm.code}), then `koppel-admin template apply {firm.code} --client "
                f"{env.code}`",
            )
        ]
    return _copy_into(admin, template, env, add_missing=False)


def apply(
    admin: Admin, firm: str, clients: Sequence[str] | None, *, add_missing: bool = False
) -> list[tuple[str, Outcome]]:
    """Copy a firm's template into its clients (all of them when ``clients`` is None).
    Every named client must be one of the firm's; otherwise nothing is done."""
    _, templates = _stores(admin)
    env = _firm(admin, firm)
    template = _template(templates, env)
    if template.empty:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            f"{env.code} has no dossier template yet; take an environment's destinations and "
            f"item types with `koppel-admin template copy-from {env.code} ENV`, or add them "
            f"with `koppel-admin template add-destination {env.code} ...` and "
            "`template add-item-type`.",
            environment=env.code,
        )
    if clients is None:
        targets = admin.repo.clients_of(env.id)
    else:
        targets = [lookups.environment(admin.repo, code) for code in clients]
        strangers = [t for t in targets if t.kind is not Kind.CLIENT or t.firm_id != env.id]
        if strangers:
            raise DomainError(
                ErrorCode.VALIDATION_ERROR,
                f"{', '.join(_whose(admin, t) for t in strangers)}; a firm's template is "
                f"applied to its own clients only (`koppel-admin env list` shows each "
                "client's firm).",
                environment=strangers[0].code,
            )
    if not targets:
        return [(env.code, Outcome(False, f"{env.code} manages no client environments yet"))]
    done: list[tuple[str, Outcome]] = []
    seen: set[int] = set()
    for target in targets:
        if target.id not in seen:
            seen.add(target.id)
            done += [(target.code, o) for o in _copy_into(admin, template, target, add_missing)]
    return done


def _whose(admin: Admin, env: Environment) -> str:
    if env.kind is not Kind.CLIENT:
        return f"{env.code} is a firm environment"
    firm = admin.repo.environment_by_id(env.firm_id) if env.firm_id else None
    return f"{env.code} is managed by {firm.code if firm else 'no firm'}"
