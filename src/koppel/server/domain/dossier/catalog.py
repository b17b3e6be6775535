"""The dossier's catalogue of an environment: destinations (imported from CSV) and item
types with the groups that may use them. Administrative: idempotent and audited."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import replace

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
from koppel.server.domain.policy import Policy
from koppel.server.domain.repository import Repository


def parse_destinations(text: str) -> list[tuple[str, str, str]]:
    """Rows ``code,name,kind`` of a CSV (a header row naming ``code`` is skipped)."""
    rows: list[tuple[str, str, str]] = []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or all(not cell.strip() for cell in row):
            continue
        if number == 1 and row[0].strip().lower() == "code":
            continue
        if len(row) != 3:
            raise DomainError(
                ErrorCode.VALIDATION_ERROR,
                f"Line {number} of the CSV has {len(row)} columns; give code,name,kind.",
            )
        code, name, kind = (cell.strip() for cell in row)
        kind = kind.lower()
        if not code or not name:
            raise DomainError(
                ErrorCode.VALIDATION_ERROR, f"Line {number} of the CSV lacks a code or a name."
            )
        if len(code) > 40 or len(name) > 200:
            raise DomainError(
                ErrorCode.VALIDATION_ERROR,
                f"Line {number}: codes have at most 40 characters, names at most 200.",
            )
        if kind not in DESTINATION_KINDS:
            raise DomainError(
                ErrorCode.VALIDATION_ERROR,
                f"Line {number}: kind {kind!r} is not one of {', '.join(DESTINATION_KINDS)}.",
            )
        rows.append((code, name, kind))
    return rows


def import_destinations(
    repo: Repository,
    dossier: DossierRepository,
    policy: Policy,
    actor: str,
    environment: str,
    text: str,
) -> tuple[int, int, int]:
    """Add or update destinations from CSV text; return (added, updated, unchanged).
    Idempotent: importing the same file again changes nothing and records no audit."""
    env = lookups.environment(repo, environment)
    rows = parse_destinations(text)
    existing = {d.code: d for d in dossier.destinations(env.id)}
    added = updated = unchanged = 0
    for code, name, kind in rows:
        found = existing.get(code)
        if found is None:
            existing[code] = dossier.add_destination(Destination(env.id, code, name, kind))
            added += 1
        elif (found.name, found.kind) != (name, kind):
            existing[code] = replace(found, name=name, kind=kind)
            dossier.save_destination(existing[code])
            updated += 1
        else:
            unchanged += 1
    if added or updated:
        record(repo, policy, actor, "destinations.import", env.code, added=added, updated=updated)
    return added, updated, unchanged


# --- item types
def create_item_type(
    repo: Repository,
    dossier: DossierRepository,
    policy: Policy,
    actor: str,
    environment: str,
    name: str,
    *,
    editable: bool = False,
    confidential: bool = False,
    groups: Sequence[str] = (),
) -> tuple[bool, ItemType]:
    """Create an item type; an existing one of that name is left as it is (changed=False)."""
    env = lookups.environment(repo, environment)
    name = name.strip()
    if not name or len(name) > 100:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR, "Give the item type a name of 1 to 100 characters."
        )
    for found in dossier.item_types(env.id):
        if found.name.lower() == name.lower():
            return False, found
    group_ids: set[int] = set()
    for group_name in groups:
        group = repo.group(env.id, group_name.strip())
        if group is None:
            raise DomainError(
                ErrorCode.NOT_FOUND,
                f"Environment {env.code} has no group {group_name!r}. Create it first with "
                f"`koppel-admin groups create {env.code} {group_name}`.",
                environment=env.code,
            )
        group_ids.add(group.id)
    if confidential and not group_ids:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            "A confidential item type needs at least one --group: only its members may see "
            "its items.",
            environment=env.code,
        )
    created = dossier.add_item_type(
        ItemType(env.id, name, editable, confidential, frozenset(group_ids))
    )
    record(
        repo,
        policy,
        actor,
        "item_type.create",
        env.code,
        name=name,
        editable=editable,
        confidential=confidential,
        groups=sorted(g.strip() for g in groups),
    )
    return True, created
