"""What the submit window remembers between runs, in ``<data>/submit-window.json``: the
environment used last (offered first next time) and, per environment, the destinations
and item types the server gave last (so that the window still fills its lists offline)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from koppel.agent.local.atomic import atomic_write_bytes
from koppel.agent.local.paths import data_dir

FORMAT = 1


def memory_file() -> Path:
    """The JSON file of the submit window's memory."""
    return data_dir() / "submit-window.json"


@dataclass
class Choices:
    """The destinations (code, name) and item type names of one environment."""

    destinations: list[tuple[str, str]] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    fetched: str = ""  # when the server gave them (ISO 8601), empty when never


@dataclass
class Memory:
    """The submit window's memory."""

    last_environment: str | None = None
    choices: dict[str, Choices] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The file's content."""
        return {
            "format": FORMAT,
            "last_environment": self.last_environment,
            "choices": {
                code: {
                    "destinations": [list(d) for d in c.destinations],
                    "types": c.types,
                    "fetched": c.fetched,
                }
                for code, c in self.choices.items()
            },
        }


def load() -> Memory:
    """The memory; an empty one when the file is missing or unreadable (it is a cache)."""
    try:
        data = json.loads(memory_file().read_text("utf-8"))
        choices = {
            str(code): Choices(
                [(str(d[0]), str(d[1])) for d in c.get("destinations", [])],
                [str(t) for t in c.get("types", [])],
                str(c.get("fetched", "")),
            )
            for code, c in dict(data.get("choices") or {}).items()
        }
        last = data.get("last_environment")
        return Memory(str(last) if last else None, choices)
    except (OSError, ValueError, TypeError, AttributeError, IndexError):
        return Memory()


def save(memory: Memory) -> None:
    """Write the memory atomically."""
    data_dir().mkdir(parents=True, exist_ok=True, mode=0o700)
    text = json.dumps(memory.to_json(), indent=2, ensure_ascii=False)
    atomic_write_bytes(memory_file(), text.encode("utf-8"))
