"""One writer per upload, across every replica: two tus requests must never append to one
upload at once (the second would write at a stale offset).

A request first takes this process's lock of the upload (cheap, no database), then claims
the upload in its database row for a short lease, renewed while the body streams; a
replica that died mid-request lets go when its lease runs out. A request that cannot get
the upload within the wait answers ``offset_mismatch``, as tus clients expect: they ask
for the offset (HEAD) and continue from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from starlette.concurrency import run_in_threadpool

from koppel.i18n import gettext as _
from koppel.protocol.errors import ErrorCode
from koppel.server.domain.errors import DomainError
from koppel.server.services import Services

# How long a request waits for another one on the same upload (e.g. a killed client's
# request the server has not noticed ending yet) before answering offset_mismatch.
WAIT_SECONDS = 15.0
# A claim lasts this long unless renewed; renewed every third of it while a body streams.
LEASE = timedelta(seconds=30)
_POLL_SECONDS = 0.05


def _busy() -> DomainError:
    """The refusal while another request writes to the upload (in the request's language)."""
    return DomainError(
        ErrorCode.OFFSET_MISMATCH,
        _(
            "Another request is still writing to this upload; ask for the offset (HEAD) and "
            "continue from there."
        ),
    )


class UploadWriters:
    """``async with writers.hold(svc, upload_id): ...`` appends alone."""

    def __init__(self, wait_seconds: float = WAIT_SECONDS, lease: timedelta = LEASE) -> None:
        self.wait_seconds = wait_seconds
        self.lease = lease
        self._local: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, svc: Services, upload_id: str) -> AsyncIterator[None]:
        """Hold the upload (this process's lock, then the database claim) for the block."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_seconds
        async with self._local_lock(upload_id, deadline):
            writer = secrets.token_hex(16)
            while not await run_in_threadpool(self._claim, svc, upload_id, writer):
                if loop.time() >= deadline:
                    raise _busy()
                await asyncio.sleep(_POLL_SECONDS)
            renewing = asyncio.create_task(self._renew(svc, upload_id, writer))
            try:
                yield
            finally:
                renewing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewing
                await run_in_threadpool(self._release, svc, upload_id, writer)

    def _claim(self, svc: Services, upload_id: str, writer: str) -> bool:
        """Claimed, or the upload does not exist (the request then says so)."""
        now = datetime.now(UTC)
        with svc.transaction() as uow:
            if uow.uploads.claim_writer(upload_id, writer, now, now + self.lease):
                return True
            # Not claimed: held by another request, or no such upload (rarely: ask then).
            return uow.uploads.get(upload_id) is None

    def _release(self, svc: Services, upload_id: str, writer: str) -> None:
        with svc.transaction() as uow:
            uow.uploads.release_writer(upload_id, writer)

    async def _renew(self, svc: Services, upload_id: str, writer: str) -> None:
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            await run_in_threadpool(self._claim, svc, upload_id, writer)

    @asynccontextmanager
    async def _local_lock(self, upload_id: str, deadline: float) -> AsyncIterator[None]:
        lock, users = self._local.get(upload_id, (asyncio.Lock(), 0))
        self._local[upload_id] = (lock, users + 1)
        try:
            wait = max(0.0, deadline - asyncio.get_running_loop().time())
            try:
                await asyncio.wait_for(lock.acquire(), wait)
            except TimeoutError:
                raise _busy() from None
            try:
                yield
            finally:
                lock.release()
        finally:
            lock, users = self._local[upload_id]
            if users <= 1:
                del self._local[upload_id]
            else:
                self._local[upload_id] = (lock, users - 1)
