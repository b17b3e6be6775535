"""What to do about updates, seen over every linked environment at once.

One agent works with the environments of one update only. When the linked environments
are all on one other update, the user installs that update's agent. When they are on
different updates, no agent works for all of them: the environments behind are converted
first, a firm always with its clients, and installing an agent would only move the problem.
"""

from __future__ import annotations

from dataclasses import dataclass

from koppel.i18n import gettext as _
from koppel.i18n import ngettext
from koppel.protocol.api import InstallationSource
from koppel.protocol.updates import Update


@dataclass(frozen=True)
class Placed:
    """One linked environment whose update the server confirmed."""

    code: str
    kind: str  # "firm" or "client"
    update: str
    server: str = ""
    firm: str | None = None  # the managing firm of a client, when the server said
    installation: InstallationSource | None = None


def _names(codes: list[str], limit: int = 5) -> str:
    shown = ", ".join(codes[:limit])
    if len(codes) <= limit:
        return shown
    return _("{codes} and {n} more").format(codes=shown, n=len(codes) - limit)


def _newest(updates: set[str]) -> str:
    return str(max(Update.parse(u) for u in updates))


def installation_hint(placed: list[Placed], update: str) -> str:
    """Where to get the agent of ``update``: a portal the server says this user may "Save
    installation" on (a firm's first), else the administrator."""
    sources = sorted(
        (p for p in placed if p.update == update and p.installation is not None),
        key=lambda p: p.kind != "firm",
    )
    if not sources or sources[0].installation is None:
        return _("ask the administrator for the agent of update {update}").format(update=update)
    where = sources[0].installation
    return _(
        '"Save installation" for {environment} on the portal {portal} (Communication Center)'
    ).format(environment=where.environment, portal=where.portal)


def spread(placed: list[Placed]) -> str:
    """Which environments are on which update, naming the fewest: "C60001 is on 2026.2,
    the rest on 2026.1" (newest first when more than two updates)."""
    by_update: dict[str, list[str]] = {}
    for p in placed:
        by_update.setdefault(p.update, []).append(p.code)
    ordered = sorted(by_update, key=Update.parse, reverse=True)
    if len(ordered) == 2:
        # Name the smaller side (the newer one on a tie): usually what was converted alone.
        named, rest = sorted(ordered, key=lambda u: (len(by_update[u]), ordered.index(u)))
        codes = by_update[named]
        return ngettext(
            "{codes} is on {update}, the rest on {rest}",
            "{codes} are on {update}, the rest on {rest}",
            len(codes),
        ).format(codes=_names(codes), update=named, rest=rest)
    return "; ".join(
        _("{codes} on {update}").format(codes=_names(by_update[u]), update=u) for u in ordered
    )


def _firm_of(p: Placed, placed: list[Placed]) -> str | None:
    """The firm of a client: as its server said, else (a server that does not say) the one
    firm linked from the same server, if there is exactly one."""
    if p.kind == "firm":
        return p.code
    if p.firm is not None:
        return p.firm
    firms = [o.code for o in placed if o.kind == "firm" and o.server == p.server]
    return firms[0] if len(firms) == 1 else None


def convert_advice(placed: list[Placed]) -> str:
    """For environments on different updates: what the administrator must convert, each
    firm with its clients, to the newest update among them."""
    target = _newest({p.update for p in placed})
    heads: list[str] = []
    commands: list[str] = []
    for p in placed:
        if p.update == target:
            continue
        firm = _firm_of(p, placed)
        head = firm or p.code
        if head in heads:
            continue
        heads.append(head)
        whole = firm is not None
        commands.append(
            f"koppel-admin env convert {head}{' --with-clients' if whole else ''} --to {target}"
        )
    parts = [
        _("{code} with its clients").format(code=head) if "--with-clients" in command else head
        for head, command in zip(heads, commands, strict=True)
    ]
    return ngettext(
        "ask the administrator to convert {parts} to update {update} ({commands})",
        "ask the administrators to convert {parts} to update {update} ({commands})",
        len(heads),
    ).format(
        parts=_(" and ").join(parts),
        update=target,
        commands="`" + "`, `".join(commands) + "`",
    )


def advice(placed: list[Placed], agent_update: str) -> str | None:
    """What to do, for every environment not on the agent's update; None when all are."""
    updates = {p.update for p in placed}
    if not updates or updates == {agent_update}:
        return None
    if len(updates) > 1:
        target = _newest(updates)
        if target != agent_update:
            return _(
                "{spread}: {convert}, then install the agent of update {update}; your links "
                "are kept"
            ).format(spread=spread(placed), convert=convert_advice(placed), update=target)
        return _("{spread}: {convert}; your links are kept").format(
            spread=spread(placed), convert=convert_advice(placed)
        )
    (update,) = updates
    install = _("install the agent of update {update} ({where})").format(
        update=update, where=installation_hint(placed, update)
    )
    if Update.parse(update) > Update.parse(agent_update):
        return _(
            "all your linked environments are on update {update}: {install}; your links are kept"
        ).format(update=update, install=install)
    return _(
        "all your linked environments are on update {update}, older than this agent's: "
        "{install}, or ask the administrator to convert them (each firm with its clients) to "
        "update {agent_update}; your links are kept"
    ).format(update=update, install=install, agent_update=agent_update)
