"""The agent's local state: the workstation and its linked environments, in one JSON file.

The file carries a ``format`` number and is migrated forward when an older agent wrote it;
a file from a newer format is refused rather than damaged. Writes are atomic, and writers
take a lock file (POSIX) so that two ``koppel`` processes never lose each other's links.
Tokens are not here: see :mod:`koppel.agent.local.token_store`.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from koppel.agent.errors import StateError
from koppel.agent.local import locks, paths
from koppel.agent.local.atomic import atomic_write_bytes
from koppel.agent.version import AGENT_UPDATE_TEXT, VERSION
from koppel.i18n import gettext as _
from koppel.i18n import ngettext

CURRENT_FORMAT = 2
WORKSTATION_NAME_ENV = "KOPPEL_WORKSTATION_NAME"


def now_iso() -> str:
    """The current time as an ISO 8601 UTC string (what the state records)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@dataclass
class Workstation:
    """This workstation as servers know it: a stable random id and a recognisable name."""

    id: str
    name: str


@dataclass
class LinkedEnv:
    """One linked environment: what the server said at link time, and the last check."""

    code: str
    name: str
    kind: str
    update: str
    login: str
    display_name: str
    api_url: str
    main_site_url: str
    token_store: str  # "keyring" or "file": where this environment's token is
    linked_at: str
    last_check: str | None = None
    last_state: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LinkedEnv:
        """Build from a state entry, ignoring keys a newer update of this format added."""
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)


@dataclass
class State:
    """Everything ``state.json`` holds."""

    agent_update: str = AGENT_UPDATE_TEXT
    workstation: Workstation | None = None
    environments: dict[str, LinkedEnv] = field(default_factory=dict)
    token_file_warning_shown: bool = False
    # Set when an agent of another update last wrote the state: the links were kept and
    # their recorded updates may be stale until the next contact with their servers.
    previous_agent_update: str | None = None

    def needs_refresh(self) -> list[LinkedEnv]:
        """Linked environments recorded on another update than this agent's."""
        return [env for env in self.environments.values() if env.update != AGENT_UPDATE_TEXT]

    def ensure_workstation(self, name: str | None = None) -> Workstation:
        """The workstation identity, made on first use; ``name`` renames it."""
        wanted = name or os.environ.get(WORKSTATION_NAME_ENV) or None
        if self.workstation is None:
            self.workstation = Workstation(
                id=uuid.uuid4().hex, name=wanted or socket.gethostname() or "workstation"
            )
        elif wanted:
            self.workstation.name = wanted
        return self.workstation

    def to_json(self) -> dict[str, Any]:
        """The state as the current format's JSON object."""
        return {
            "format": CURRENT_FORMAT,
            "agent_update": self.agent_update,
            "agent_version": VERSION,
            "previous_agent_update": self.previous_agent_update,
            "workstation": asdict(self.workstation) if self.workstation else None,
            "token_file_warning_shown": self.token_file_warning_shown,
            "environments": {code: asdict(env) for code, env in self.environments.items()},
        }


@dataclass
class Loaded:
    """A state as read: ``changed`` when migrating it means it should be written back."""

    state: State
    changed: bool = False
    notes: list[str] = field(default_factory=list)


def _migrate_1_to_2(data: dict[str, Any]) -> dict[str, Any]:
    # Format 1 kept the environments as a list and had only the token file.
    environments = data.get("environments") or []
    if not isinstance(environments, list):
        raise ValueError("format 1 expects a list of environments")
    migrated: dict[str, Any] = {}
    for entry in environments:
        entry = dict(entry)
        entry.setdefault("token_store", "file")
        migrated[entry["code"]] = entry
    return {**data, "format": 2, "environments": migrated}


# format N -> the function that turns it into format N + 1
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _migrate_1_to_2}


def parse_state(data: Any, source: str = "state.json") -> Loaded:
    """Turn the JSON of any known format into the current State, migrating forward."""
    if not isinstance(data, dict) or not isinstance(data.get("format"), int):
        raise StateError(
            _(
                "{source} is not a Koppel agent state file. Move it away and link your "
                "environments again with `koppel link FILE`."
            ).format(source=source)
        )
    found = data["format"]
    if found > CURRENT_FORMAT:
        raise StateError(
            _(
                "{source} was written by a newer Koppel agent (state format {found}, this "
                "agent {version} reads up to {current}). Install the newer agent again "
                '("Save installation" on your portal); your links are kept in that file.'
            ).format(source=source, found=found, version=VERSION, current=CURRENT_FORMAT)
        )
    changed = False
    try:
        while data["format"] < CURRENT_FORMAT:
            data = MIGRATIONS[data["format"]](data)
            changed = True
        state = _from_current(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise StateError(
            _(
                "{source} is damaged ({problem}). Move it away and link your environments "
                "again with `koppel link FILE`."
            ).format(source=source, problem=repr(exc))
        ) from exc
    loaded = Loaded(state, changed=changed)
    if state.agent_update != AGENT_UPDATE_TEXT:
        # An agent of another update wrote it: keep every link, take it over.
        count = len(state.environments)
        loaded.notes.append(
            ngettext(
                "This agent is on update {update}; the links were made by the agent of update "
                "{previous}. The link is kept.",
                "This agent is on update {update}; the links were made by the agent of update "
                "{previous}. All {n} links are kept.",
                count,
            ).format(update=AGENT_UPDATE_TEXT, previous=state.agent_update, n=f"{count:,}")
        )
        state.previous_agent_update = state.agent_update
        state.agent_update = AGENT_UPDATE_TEXT
        loaded.changed = True
    stale = state.needs_refresh()
    if loaded.changed and stale:
        codes = ", ".join(env.code for env in stale[:5]) + (", ..." if len(stale) > 5 else "")
        loaded.notes.append(
            ngettext(
                "{n} environment recorded on another update ({codes}); `koppel doctor` checks "
                "it against its server.",
                "{n} environments recorded on another update ({codes}); `koppel doctor` "
                "checks them against their servers.",
                len(stale),
            ).format(n=f"{len(stale):,}", codes=codes)
        )
    return loaded


def _from_current(data: dict[str, Any]) -> State:
    workstation = data.get("workstation")
    environments = data.get("environments") or {}
    return State(
        agent_update=str(data.get("agent_update") or AGENT_UPDATE_TEXT),
        workstation=Workstation(**workstation) if workstation else None,
        environments={code: LinkedEnv.from_json(env) for code, env in environments.items()},
        token_file_warning_shown=bool(data.get("token_file_warning_shown", False)),
        previous_agent_update=data.get("previous_agent_update"),
    )


def load(path: Path | None = None) -> Loaded:
    """Read the state (an empty one when there is none yet); no lock needed to read."""
    path = path or paths.state_file()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Loaded(State())
    except OSError as exc:
        raise StateError(
            _("Cannot read {path}: {reason}. Check its permissions.").format(
                path=path, reason=exc.strerror
            )
        ) from exc
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StateError(
            _(
                "{path} is damaged (not JSON). Move it away and link your environments again "
                "with `koppel link FILE`."
            ).format(path=path)
        ) from exc
    return parse_state(data, str(path))


def save(state: State, path: Path | None = None) -> None:
    """Write the state atomically (callers hold the lock, see :func:`locked`)."""
    path = path or paths.state_file()
    data = json.dumps(state.to_json(), indent=1, ensure_ascii=False).encode() + b"\n"
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise StateError(
            _("Cannot write {path}: {reason}.").format(path=path, reason=exc.strerror)
        ) from exc


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    # flock on POSIX, msvcrt on Windows: two agents never write the state at once.
    with locks.exclusive(path):
        yield


@contextlib.contextmanager
def locked(folder: Path | None = None) -> Iterator[Loaded]:
    """Load the state under the writers' lock and save it when the block succeeds.

    Hold it only around the local read-modify-write, never across network calls: another
    ``koppel`` process would wait for the server too.
    """
    folder = folder or paths.data_dir()
    with _lock(folder / "state.lock"):
        loaded = load(folder / "state.json")
        yield loaded
        save(loaded.state, folder / "state.json")


def read() -> Loaded:
    """Read the state; when it was migrated, write the migrated state back once."""
    loaded = load()
    if loaded.changed:
        with locked() as again:
            return Loaded(again.state, changed=True, notes=loaded.notes)
    return loaded
