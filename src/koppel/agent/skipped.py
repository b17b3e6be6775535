"""The clients a bundle left out, as `koppel settings download --bundle` and `koppel link`
report them: a heading with the count, one line per client with the server's reason (which
says who must do what), and the same list in ``--json``.

Free of pydantic at import time: it only reads the fields of the protocol's model.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from koppel.protocol.settings_file import SkippedEnvironment


def heading(count: int) -> str:
    """``3 clients were not included:``."""
    from koppel.i18n import ngettext

    return ngettext("{n} client was not included:", "{n} clients were not included:", count).format(
        n=count
    )


def report(skipped: Sequence[SkippedEnvironment]) -> str:
    """The heading and one indented line per client: ``CODE · NAME: why and who acts``."""
    lines = [heading(len(skipped))]
    for entry in skipped:
        label = f"{entry.environment} · {entry.name}" if entry.name else entry.environment
        lines.append(f"  {label}: {entry.message}")
    return "\n".join(lines)


def as_json(skipped: Iterable[SkippedEnvironment]) -> list[dict[str, Any]]:
    """``[{"code", "name", "reason", "message"}]``: the environment's code and name, the
    reason code (a server error code such as ``connector_blocked``) and the sentence."""
    return [
        {
            "code": entry.environment,
            "name": entry.name,
            "reason": str(entry.code),
            "message": entry.message,
        }
        for entry in skipped
    ]


def merge(skipped: Iterable[SkippedEnvironment], linked: Iterable[str]) -> list[SkippedEnvironment]:
    """One entry per client (the last file's), in code order, leaving out the clients
    that another file of the same command linked after all."""
    done = set(linked)
    last = {entry.environment: entry for entry in skipped if entry.environment not in done}
    return [last[code] for code in sorted(last)]
