"""The one path from a request body to storage: the body is gathered into pieces of
about ``PIECE_BYTES`` and handed to a store function in a worker thread, while the next
piece is received. The tus PATCH, the integration push and the multipart forms (API and
portal) all read their bodies through ``stream_into``.

Receiving and storing (hashing, writing) each take a core's worth of time for a large
body, so overlapping them nearly halves it. At most one store is in flight: memory stays
at two pieces and the pieces reach the store in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from starlette.concurrency import run_in_threadpool

PIECE_BYTES = 4 * 1024 * 1024

Store = Callable[..., None]


async def stream_into(
    body: AsyncIterator[bytes],
    store: Store,
    *,
    piece_bytes: int = PIECE_BYTES,
    stop: Callable[[], bool] | None = None,
) -> None:
    """Hand ``body`` to ``store(*pieces)`` piece by piece; an error of ``store`` ends the
    reading and propagates, and so does an error of ``body`` once what arrived before it
    is stored. ``stop`` is asked before each store: when it says so, the rest of the body
    is left unread."""
    storing: asyncio.Future[None] | None = None
    pieces: list[bytes] = []
    gathered = 0
    stopped = stop or (lambda: False)
    arriving = aiter(body)
    try:
        while True:
            try:
                piece = await anext(arriving)
            except StopAsyncIteration:
                break
            except Exception:
                # The body broke off (a dropped connection): the pieces that did arrive
                # are still stored, in order, so that a tus upload resumes after the last
                # byte received rather than after the last whole piece.
                if storing is not None:
                    await storing
                    storing = None
                if pieces and not stopped():
                    await run_in_threadpool(store, *pieces)
                raise
            pieces.append(piece)
            gathered += len(piece)
            if gathered >= piece_bytes:
                if storing is not None:
                    await storing
                    storing = None
                if stopped():
                    return
                storing = asyncio.ensure_future(run_in_threadpool(store, *pieces))
                pieces, gathered = [], 0
        if storing is not None:
            await storing
            storing = None
        if pieces and not stopped():
            await run_in_threadpool(store, *pieces)
    finally:
        if storing is not None:
            # Whatever ends the body (a broken connection included), the store in flight
            # finishes before the caller finishes or discards what was stored.
            await asyncio.wait([storing])
            if not storing.cancelled():
                storing.exception()  # retrieved: the error already raised wins
