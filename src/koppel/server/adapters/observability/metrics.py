"""Prometheus metrics of one server process (``/metrics``, prometheus-client).

Each app has its own registry, so that two apps in one process (tests, a worker beside a
server) never mix their counts. Routes are counted by their template
(``/api/v1/environments/{env}/items/{item_id}``), never by the path a client sent: a
label per path would grow without bound.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# (jobs waiting, when the oldest of them was queued), read when Prometheus scrapes.
Backlog = Callable[[], tuple[int, datetime | None]]
_DURATIONS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class _JobBacklog(Collector):
    """The job queue's depth and age, asked of the database at each scrape."""

    def __init__(self, backlog: Backlog, clock: Callable[[], datetime]) -> None:
        self._backlog = backlog
        self._clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        waiting, oldest = self._backlog()
        yield GaugeMetricFamily(
            "koppel_jobs_queued", "Jobs waiting for a worker (analyses).", value=waiting
        )
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)  # SQLite gives back UTC without its offset
        age = 0.0 if oldest is None else max(0.0, (self._clock() - oldest).total_seconds())
        yield GaugeMetricFamily(
            "koppel_jobs_oldest_queued_seconds",
            "How long the oldest waiting job has waited (0 when none waits).",
            value=age,
        )


class Metrics:
    """The counters of one app."""

    def __init__(
        self, backlog: Backlog | None = None, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "koppel_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.durations = Histogram(
            "koppel_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer (an event stream: its "
            "whole life).",
            ["method", "route"],
            buckets=_DURATIONS,
            registry=self.registry,
        )
        self.upload_bytes = Counter(
            "koppel_upload_bytes",
            "Bytes received into uploads (tus PATCH and creation-with-upload).",
            registry=self.registry,
        )
        self.event_streams = Gauge(
            "koppel_event_streams_active",
            "Event streams (Server-Sent Events) open now.",
            registry=self.registry,
        )
        self.token_failures = Counter(
            "koppel_token_failures",
            "Requests refused for their token (missing, invalid, revoked, another "
            "environment's), by error code.",
            ["code"],
            registry=self.registry,
        )
        if backlog is not None and clock is not None:
            self.registry.register(_JobBacklog(backlog, clock))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        self.requests.labels(method, route, str(status)).inc()
        self.durations.labels(method, route).observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        """The metrics in Prometheus's text format, and its media type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
