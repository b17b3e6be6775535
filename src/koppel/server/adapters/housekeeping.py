"""Housekeeping beside the requests: ended portal sessions, failed sign-ins that no
longer count, old events, expired event sessions, ended device approvals and expired
uploads (their bytes too: an S3 multipart upload is aborted) are deleted every few
minutes, so those tables stay small; then the store settles (SQLite's log is folded into
the database file)."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from koppel.server.domain import events as event_rules
from koppel.server.domain.portal import device_approval, password_reset
from koppel.server.domain.portal import sessions as web_sessions
from koppel.server.domain.transfer import uploads as upload_rules
from koppel.server.services import Services

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 300.0


class Housekeeping:
    """One daemon thread that purges every ``interval`` seconds until stopped."""

    def __init__(self, svc: Services, interval: float = INTERVAL_SECONDS) -> None:
        self.svc, self.interval = svc, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="housekeeping", daemon=True)

    def start(self) -> None:
        """Start the thread (its first purge runs at once)."""
        self._thread.start()

    def stop(self) -> None:
        """End the thread."""
        self._stop.set()
        self._thread.join(10)

    def run_once(self) -> dict[str, int]:
        """Purge now: how many of each were deleted."""
        with self.svc.transaction() as uow:
            sessions, failures = web_sessions.purge(uow.portal, self.svc.policy)
            events = event_rules.purge(uow.events, self.svc.policy)
            grants = device_approval.housekeeping(uow.device_grants, self.svc.policy)
            resets = password_reset.purge(uow.password_resets, self.svc.policy)
        # Also swept when an upload is created; here so that the last uploads of a quiet
        # server do not wait for the next one (one small batch per round).
        with self.svc.transaction() as uow:
            uploads = upload_rules.sweep_expired(uow.uploads, self.svc.blobs, datetime.now(UTC))
        return {
            "portal sessions": sessions,
            "sign-in failures": failures,
            "events": events,
            "device approvals": grants,
            "password reset requests": resets,
            "expired uploads": uploads,
        }

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                purged = self.run_once()
                if any(purged.values()):
                    log.info("purged %s", ", ".join(f"{n} {what}" for what, n in purged.items()))
                # A copy of the database file alone (a backup taken by copying) then
                # lags by one interval at most.
                self.svc.store.settle()
            except Exception:  # housekeeping must never stop the server
                log.exception("housekeeping failed; trying again later")
            self._stop.wait(self.interval)
