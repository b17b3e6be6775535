"""Log lines of the server and its worker: a UTC timestamp, the level, the logger, the
request id and the message, as text or (``KOPPEL_LOG_FORMAT=json``) as one JSON object
per line for a log collector. uvicorn's own lines go the same way; its access log is
replaced by ``koppel.access`` (access.py), which knows the request id and the route."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from koppel.server.adapters.observability import request_ids

# The loggers this configures: Koppel's own and uvicorn's (its error log carries start-up
# lines and the tracebacks of failed requests).
_LOGGERS = ("koppel", "uvicorn", "uvicorn.error")


class _RequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_ids.current() or "-"
        return True


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    """``2026-12-03T15:42:21.123Z INFO koppel.access [3f2a9c01d4e5b6a7] message``."""

    def format(self, record: logging.LogRecord) -> str:
        line = (
            f"{_timestamp(record)} {record.levelname} {record.name} "
            f"[{getattr(record, 'request_id', '-')}] {record.getMessage()}"
        )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, request_id, message, and the
    fields a line was logged with (``extra={"fields": {...}}``: an access line's
    method, route, status, duration...)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(level: str = "info", log_format: str = "text") -> None:
    """Send Koppel's and uvicorn's log lines to stderr in ``log_format``, at ``level``
    (uvicorn's level names; "trace" is debug here)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(_RequestId())
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.DEBUG)
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(numeric)
        logger.propagate = False
    # Replaced by koppel.access, which has the request id, the route and the duration.
    access = logging.getLogger("uvicorn.access")
    access.handlers[:] = []
    access.propagate = False
    access.disabled = True
