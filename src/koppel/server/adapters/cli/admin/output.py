"""Rendering for ``koppel-admin``: outcomes, tables, the checklist, JSON.

Kept cheap on purpose: plain aligned lines when stdout is not a terminal (scripts, pipes,
the benchmark), a Rich table only for tables on a terminal, and no Rich at all for the
checklist, which may cover a thousand environments.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from koppel.protocol.counts import counted

if TYPE_CHECKING:
    from koppel.server.domain.setup.administration import Outcome
    from koppel.server.domain.setup.procedure import EnvironmentCheck

DONE = "✓"
MISSING = "✗"
UNCHANGED = "·"


def is_terminal() -> bool:
    """Whether stdout is an interactive terminal."""
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def _paint(text: str, color: str, enabled: bool) -> str:
    codes = {"green": "32", "red": "31", "dim": "2", "bold": "1", "yellow": "33"}
    return f"\x1b[{codes[color]}m{text}\x1b[0m" if enabled else text


def write(text: str) -> None:
    """Write text to stdout, ending it with a newline."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def emit_json(data: Any) -> None:
    """Print one JSON document on stdout."""
    write(json.dumps(data, ensure_ascii=False, indent=2, default=_json_default))


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def when(value: datetime | None) -> str:
    """A timestamp for people: UTC, to the second."""
    if value is None:
        return "-"
    return value.strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class Done:
    """One outcome of one step, with the environment it concerns."""

    environment: str | None
    outcome: Outcome

    def as_json(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "changed": self.outcome.changed,
            "message": self.outcome.message,
        }


def outcomes_json(done: Sequence[Done], **extra: Any) -> dict[str, Any]:
    """The JSON of a command that changes things."""
    return {
        "changed": any(d.outcome.changed for d in done),
        "outcomes": [d.as_json() for d in done],
        **extra,
    }


def outcome_lines(done: Iterable[Done], indent: str = "") -> list[str]:
    """``✓ changed`` / ``· already done`` lines."""
    color = is_terminal()
    lines = []
    for d in done:
        if d.outcome.changed:
            lines.append(f"{indent}{_paint(DONE, 'green', color)} {d.outcome.message}")
        else:
            lines.append(f"{indent}{_paint(UNCHANGED, 'dim', color)} {d.outcome.message}")
    return lines


def show_outcomes(done: Sequence[Done], json_mode: bool, **extra: Any) -> None:
    """Print what a command did."""
    if json_mode:
        emit_json(outcomes_json(done, **extra))
        return
    write("\n".join(outcome_lines(done)))


def _cell(value: object) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return when(value)
    if isinstance(value, list | tuple | set):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], title: str = "") -> None:
    """A table: Rich on a terminal with few rows, plain aligned columns otherwise."""
    cells = [[_cell(v) for v in row] for row in rows]
    if not cells:
        write(f"(no {title or 'rows'})")
        return
    if is_terminal() and len(cells) <= 500:
        from rich.console import Console
        from rich.table import Table

        rich_table = Table(*headers, title=title or None, title_justify="left")
        for row in cells:
            rich_table.add_row(*row)
        Console(highlight=False).print(rich_table)
        return
    widths = [max(len(headers[i]), *(len(row[i]) for row in cells)) for i in range(len(headers))]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    write("\n".join(lines))


def check_json(checks: Sequence[EnvironmentCheck], missing_only: bool) -> dict[str, Any]:
    """The JSON of ``check``: every environment with every step."""
    complete = sum(1 for c in checks if c.complete)
    shown = [c for c in checks if not (missing_only and c.complete)]
    return {
        # No environment at all is not a success: it is most often the wrong database.
        "complete": bool(checks) and complete == len(checks),
        "summary": {
            "environments": len(checks),
            "complete": complete,
            "incomplete": len(checks) - complete,
            "missing_steps": sum(1 for c in checks for s in c.steps if not s.done),
        },
        "environments": [
            {
                "code": c.code,
                "name": c.name,
                "kind": c.kind.value,
                "update": c.update,
                "complete": c.complete,
                "steps": [
                    {
                        "key": s.key,
                        "title": s.title,
                        "done": s.done,
                        "detail": s.detail,
                        "fix": s.fix,
                    }
                    for s in c.steps
                ],
            }
            for c in shown
        ],
    }


def check_text(checks: Sequence[EnvironmentCheck], missing_only: bool) -> str:
    """The checklist for people: one block per environment, plain lines."""
    color = is_terminal() and len(checks) <= 200
    ok = _paint(DONE, "green", color)
    bad = _paint(MISSING, "red", color)
    lines: list[str] = []
    complete = 0
    for check in checks:
        missing = [s for s in check.steps if not s.done]
        if not missing:
            complete += 1
            if missing_only:
                continue
        state = (
            _paint("complete", "green", color)
            if not missing
            else _paint(f"{counted(len(missing), 'step')} missing", "red", color)
        )
        if lines:
            lines.append("")
        head = f"{check.code}  {check.name}  ({check.kind.value}, update {check.update})"
        lines.append(f"{_paint(head, 'bold', color)}: {state}")
        for step in check.steps:
            detail = f" — {step.detail}" if step.detail else ""
            lines.append(f"  {ok if step.done else bad} {step.title}{detail}")
            if not step.done:
                lines.append(
                    f"      fix: {step.fix}" if step.fix else "      fix: do the steps above first"
                )
    total = len(checks)
    if lines:
        lines.append("")
    summary = f"{complete:,} of {counted(total, 'environment')} complete"
    if complete < total:
        summary += "; run the fix commands above, then check again"
    lines.append(_paint(summary, "green" if complete == total else "yellow", color))
    return "\n".join(lines)
