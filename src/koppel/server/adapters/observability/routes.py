"""``/healthz``, ``/readyz`` and ``/metrics``: for load balancers, orchestrators and
Prometheus, outside the agent API (and its document)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from koppel.protocol.errors import ErrorCode
from koppel.server.adapters.http.dependencies import services
from koppel.server.adapters.http.errors import error_response
from koppel.server.adapters.observability import readiness
from koppel.server.adapters.observability.metrics import Metrics
from koppel.server.domain.errors import DomainError
from koppel.server.services import Services

router = APIRouter(include_in_schema=False)
Svc = Annotated[Services, Depends(services)]


def metrics_of(request: Request) -> Metrics:
    """The metrics of the app answering ``request``."""
    found: Metrics = request.app.state.metrics
    return found


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive (nothing else is checked: that is /readyz)."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(svc: Svc) -> JSONResponse:
    """200 when the database answers, the schema is current and the blob store is
    usable; else 503, naming what is wrong."""
    found = readiness.checks(svc)
    ready = all(check.problem is None for check in found)
    return JSONResponse(
        {
            "status": "ready" if ready else "not ready",
            "checks": {check.name: check.problem or "ok" for check in found},
        },
        status_code=200 if ready else 503,
        headers={"Cache-Control": "no-store"},
    )


@router.get("/metrics")
async def metrics(request: Request, svc: Svc) -> Response:
    """Prometheus's text format (404 with ``KOPPEL_METRICS=false``)."""
    if not svc.settings.metrics:
        return error_response(DomainError(ErrorCode.NOT_FOUND, "Metrics are off here."))
    # The job queue is read from the database: not on the event loop.
    body, media_type = await run_in_threadpool(metrics_of(request).exposition)
    return Response(body, media_type=media_type, headers={"Cache-Control": "no-store"})
