"""The tray menu as data: a line per server with its state in words, the pending queue,
then the actions. Plain Python (no Qt), so the menu's content is unit-tested and the Qt
tray only draws it.

The input is :class:`ServerStatus`, one per server, plus the queue's counts: "Check now"
fills it from the servers' answers, and a status file kept by the background agent
(per server ``state``, ``last_contact``, ``detail``, ``pending``, ``received``) can fill
it through :meth:`ServerStatus.from_json` without asking the network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from koppel.i18n import N_, format_when, ngettext
from koppel.i18n import gettext as _

CONNECTED = "connected"
OFFLINE = "offline"
TOKEN_REVOKED = "token_revoked"
UPDATE_MISMATCH = "update_mismatch"
PROBLEM = "problem"  # anything else the server refused; ``detail`` says what
UNKNOWN = "unknown"  # not checked yet

# The worst state of a server's environments is the server's: offline concerns them all,
# then what needs the user (link again, install an agent), then the rest.
SEVERITY = (OFFLINE, TOKEN_REVOKED, UPDATE_MISMATCH, PROBLEM, UNKNOWN, CONNECTED)

# Marked here, translated where shown (the language is the agent's, read at each build).
_WORDS = {
    CONNECTED: N_("connected"),
    OFFLINE: N_("offline: cannot be reached"),
    TOKEN_REVOKED: N_("access revoked: link it again"),
    UPDATE_MISMATCH: N_("update mismatch: install the agent of the environment's update"),
    PROBLEM: N_("refused"),
    UNKNOWN: N_("not checked yet"),
}

# Doctor's finding states (and the background agent's) mapped to the tray's states.
_FROM_FINDING = {
    "ok": CONNECTED,
    "connected": CONNECTED,
    "unreachable": OFFLINE,
    "offline": OFFLINE,
    "token_revoked": TOKEN_REVOKED,
    "token_invalid": TOKEN_REVOKED,
    "token_missing": TOKEN_REVOKED,
    "token_wrong_environment": TOKEN_REVOKED,
    "update_mismatch": UPDATE_MISMATCH,
    "update_unsupported": UPDATE_MISMATCH,
    "unknown": UNKNOWN,
}

# The actions, in menu order: (action id, label).
SEND_FILES = "send_files"
OPEN_RECEIVED = "open_received"
LINKED_ENVIRONMENTS = "linked_environments"
CHECK_NOW = "check_now"
QUIT = "quit"
ACTIONS = (
    (SEND_FILES, N_("Send files…")),
    (OPEN_RECEIVED, N_("Open received files")),
    (LINKED_ENVIRONMENTS, N_("Linked environments")),
    (CHECK_NOW, N_("Check now")),
    (QUIT, N_("Quit")),
)


def tray_state(state: str | None) -> str:
    """The tray's state for a state word of doctor, the recorded last check or the status
    file (an unknown refusal is a ``problem``; nothing recorded yet is ``unknown``)."""
    if not state:
        return UNKNOWN
    return _FROM_FINDING.get(state, PROBLEM)


def server_label(server: str) -> str:
    """A server's address as people recognise it: its host (and port), no scheme."""
    parts = urlsplit(server)
    return (parts.netloc or server).rstrip("/")


@dataclass
class ServerStatus:
    """What is known about one server: its state, the environments linked on it and what
    the background agent counted."""

    server: str
    state: str = UNKNOWN
    environments: list[str] = field(default_factory=list)
    detail: str = ""  # the reason or fix in words, for states other than connected
    last_contact: str | None = None  # ISO 8601
    pending: int = 0
    received: int = 0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServerStatus:
        """One server's entry of the background agent's status file (unknown keys ignored,
        its state words mapped to the tray's)."""
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        status = cls(**known)
        status.state = tray_state(status.state)
        return status

    @property
    def words(self) -> str:
        """The state in words."""
        if self.state == PROBLEM and self.detail:
            return _("refused: {detail}").format(detail=self.detail)
        return _(_WORDS[self.state]) if self.state in _WORDS else self.state


@dataclass(frozen=True)
class QueueCounts:
    """The submissions in the offline queue: waiting to be sent, and refused."""

    pending: int = 0
    failed: int = 0


@dataclass(frozen=True)
class MenuLine:
    """One line of the menu: information (``action`` None, shown greyed) or an action."""

    text: str
    action: str | None = None
    tooltip: str = ""

    @property
    def enabled(self) -> bool:
        """Actions can be clicked; information lines cannot."""
        return self.action is not None


SEPARATOR = MenuLine("-")


@dataclass(frozen=True)
class TrayMenu:
    """The whole menu and the icon's overall state."""

    lines: list[MenuLine]
    state: str  # the worst server state: the icon's badge
    tooltip: str

    def actions(self) -> list[str]:
        """The action ids, in order."""
        return [line.action for line in self.lines if line.action]


def queue_line(counts: QueueCounts) -> str:
    """The pending queue in words."""
    if not counts.pending and not counts.failed:
        return _("Nothing waiting to be sent")
    waiting = ngettext(
        "{n} submission waiting to be sent", "{n} submissions waiting to be sent", counts.pending
    ).format(n=counts.pending)
    if not counts.failed:
        return waiting
    return ngettext(
        "{waiting}, {n} refused (see `koppel queue`)",
        "{waiting}, {n} refused (see `koppel queue`)",
        counts.failed,
    ).format(waiting=waiting, n=counts.failed)


def build(servers: list[ServerStatus], counts: QueueCounts) -> TrayMenu:
    """The menu for these servers and this queue."""
    lines: list[MenuLine] = []
    if not servers:
        lines.append(MenuLine(_("No environment linked yet")))
    for status in servers:
        codes = ", ".join(status.environments)
        text = _("{server}: {state}").format(server=server_label(status.server), state=status.words)
        if codes:
            text = _("{server}: {state} ({environments})").format(
                server=server_label(status.server), state=status.words, environments=codes
            )
        tooltip = status.detail if status.state != CONNECTED else ""
        lines.append(MenuLine(text, tooltip=tooltip))
    lines.append(MenuLine(queue_line(counts)))
    lines.append(SEPARATOR)
    lines.extend(MenuLine(_(label), action) for action, label in ACTIONS)
    worst = min((s.state for s in servers), key=SEVERITY.index, default=UNKNOWN)
    if not servers:
        worst = UNKNOWN
    said = _("every server connected") if worst == CONNECTED else _(_WORDS.get(worst, worst))
    tooltip = _("Koppel: {state}").format(state=said)
    return TrayMenu(lines, worst, tooltip)


def shown_time(moment: str | None) -> str:
    """An ISO 8601 time as the agent's language writes it ("" for none; as stored when it
    cannot be read)."""
    if not moment:
        return ""
    try:
        return format_when(datetime.fromisoformat(moment))
    except ValueError:
        return moment[:16].replace("T", " ")
