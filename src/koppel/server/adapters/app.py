"""The ASGI application."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from fastapi import FastAPI

from koppel._version import __version__
from koppel.server.adapters.api import (
    agent_routes,
    device_routes,
    dossier_routes,
    event_routes,
    release_routes,
    tus_routes,
    upload_rules_routes,
)
from koppel.server.adapters.api import my_files_routes as files_routes
from koppel.server.adapters.assembly import ServerServices, create_services
from koppel.server.adapters.background import lifespan
from koppel.server.adapters.http.errors import install_handlers
from koppel.server.adapters.http.language import SpeakTheLanguage
from koppel.server.adapters.observability import routes as observability_routes
from koppel.server.adapters.observability.access import ObserveRequests
from koppel.server.adapters.observability.metrics import Metrics
from koppel.server.adapters.web import install as install_portal
from koppel.server.adapters.web.security_headers import (
    StrictTransportSecurity,
    served_over_https,
)
from koppel.server.config import ServerSettings


def create_app(svc: ServerServices | None = None) -> FastAPI:
    """The server app; builds its services from ``KOPPEL_*`` settings when none are given."""
    svc = svc or create_services(ServerSettings())
    app = FastAPI(
        title="Koppel environment host",
        version=__version__,
        description="The agent API of Koppel. Errors are `ErrorBody` objects with a stable "
        "`code`; every agent request states its update in the `Koppel-Update` header.",
        lifespan=lifespan,
    )
    app.state.services = svc
    if not svc.store.needs_upgrade():
        svc.host_id  # noqa: B018 (read now: a probe is then answered without the database)
    install_handlers(app)
    app.include_router(agent_routes.router)
    app.include_router(device_routes.router)
    app.include_router(tus_routes.router)
    app.add_middleware(tus_routes.TusHeaders)
    app.include_router(dossier_routes.router)
    app.include_router(upload_rules_routes.router)
    app.include_router(files_routes.router)
    app.include_router(event_routes.router)
    app.include_router(release_routes.router)
    install_portal(app)
    app.include_router(observability_routes.router)
    if served_over_https(svc.policy.public_url):
        app.add_middleware(StrictTransportSecurity)
    app.add_middleware(SpeakTheLanguage)
    app.state.metrics = Metrics(backlog=partial(_job_backlog, svc), clock=svc.policy.clock)
    # Added last, so outermost: the request id is set before anything else logs.
    app.add_middleware(ObserveRequests, metrics=app.state.metrics)
    return app


def _job_backlog(svc: ServerServices) -> tuple[int, datetime | None]:
    with svc.transaction() as uow:
        return uow.jobs.backlog()
