"""Where one command spends its time: named phases, written as JSON when the process exits.

Enabled only by ``KOPPEL_TIMINGS=/path/file.json``; unset, :func:`mark` returns at once and
nothing else is imported (this module needs only ``os`` and ``time``, both loaded by the
interpreter before any of Koppel).

A phase is the time between two marks: ``mark("request")`` ends the phase "request" now,
and the next phase starts. The first phase ("start-up", as the command code marks it)
starts when the process started (``/proc/self/stat`` on Linux, else the moment this
module was first imported, said in the file as ``"origin": "import"``); the last one
("exit") ends when the interpreter runs its exit handlers. A name marked more than once
(two requests, several files) adds up. So the phases add up to the command's wall time.
"""

from __future__ import annotations

import os
import time

ENV = "KOPPEL_TIMINGS"

_path = os.environ.get(ENV) or None
# (name, seconds) in the order marked; the clock is time.monotonic-based perf_counter.
_phases: list[tuple[str, float]] = []
_origin = "import"
_last = 0.0


def _process_start() -> float | None:
    """When this process started, on the perf_counter clock (Linux only; else None)."""
    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: since boot
        # Both clocks at once: the boot clock (which /proc counts on) and perf_counter.
        since_boot = time.clock_gettime(time.CLOCK_BOOTTIME)
        now = time.perf_counter()
    except (OSError, ValueError, IndexError, AttributeError):
        return None
    return now - max(0.0, since_boot - started)


def _setup() -> None:
    global _last, _origin
    started = _process_start()
    if started is None:
        _last = time.perf_counter()
    else:
        _last, _origin = started, "process"
    import atexit

    atexit.register(_write)


def enabled() -> bool:
    """Whether this command records its phases."""
    return _path is not None


def mark(phase: str) -> None:
    """End the phase named ``phase`` now (a no-op unless ``KOPPEL_TIMINGS`` is set)."""
    global _last
    if _path is None:
        return
    now = time.perf_counter()
    _phases.append((phase, now - _last))
    _last = now


def phases() -> dict[str, float]:
    """The phases so far, in seconds, a repeated name added up, in first-marked order."""
    summed: dict[str, float] = {}
    for name, seconds in _phases:
        summed[name] = summed.get(name, 0.0) + seconds
    return summed


def _write() -> None:
    import json
    import sys

    mark("exit")
    summed = phases()
    report = {
        "command": sys.argv[1:2],
        "origin": _origin,
        "wall_s": round(sum(summed.values()), 6),
        "phases": {name: round(seconds, 6) for name, seconds in summed.items()},
    }
    assert _path is not None
    try:
        with open(_path, "w", encoding="utf-8") as out:
            json.dump(report, out, indent=1)
    except OSError as exc:  # a diagnostic aid: never fail the command for it
        # untranslated: an engineers' trace (KOPPEL_TIMINGS), like the timings themselves
        print(f"koppel: could not write {ENV}={_path} ({exc})", file=sys.stderr)


if _path is not None:
    _setup()
