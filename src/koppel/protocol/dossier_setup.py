"""What the server and the agent say when an environment cannot take a document because
its dossier is not set up (no destinations, no item types): one wording, which names the
environment and who must act. Plain Python: the agent imports it on every submit."""

from __future__ import annotations

NO_DESTINATIONS = "no_destinations"
NO_ITEM_TYPES = "no_item_types"


def not_set_up(
    environment: str, *, destinations: bool, item_types: bool, for_caller: bool = False
) -> str:
    """Why nothing can be filed in ``environment``: it lacks destinations and/or item
    types (``for_caller``: item types the caller may use), which only its administrator
    can add; nothing on the employee's side fixes it."""
    missing = ["no destinations"] if destinations else []
    wanted = ["destinations"] if destinations else []
    if item_types:
        missing.append("no item types you may use" if for_caller else "no item types")
        wanted.append("item types")
    access = ", or to give you access to an item type" if item_types and for_caller else ""
    return (
        f"{environment} has {' and '.join(missing)} yet, so no document can be filed there. "
        f"Only the administrator of {environment} can change that: ask them to add "
        f"{' and '.join(wanted)}{access} (`koppel-admin check {environment}` shows them how). "
        "Nothing was filed."
    )
