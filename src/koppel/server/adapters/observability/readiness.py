"""``/readyz``: whether this replica can serve: its database answers, its schema is
current, its blob store is reachable. A load balancer sends requests only to a replica
that is ready; ``/healthz`` says only that the process is alive."""

from __future__ import annotations

from dataclasses import dataclass

from koppel.server.services import Services


@dataclass(frozen=True)
class Check:
    """One thing a ready replica needs: None when fine, else what is wrong."""

    name: str
    problem: str | None


def checks(svc: Services) -> list[Check]:
    """Each check, in order; a failing one does not stop the others."""
    return [
        Check("database", _database(svc)),
        Check("schema", _schema(svc)),
        Check("blobs", svc.blobs.problem()),
    ]


def _database(svc: Services) -> str | None:
    try:
        svc.store.ping()
    except Exception as exc:  # any driver error: the replica is not ready
        return f"the database does not answer ({type(exc).__name__}: {exc})"[:300]
    return None


def _schema(svc: Services) -> str | None:
    try:
        behind = svc.store.needs_upgrade()
    except Exception as exc:
        return f"the schema cannot be read ({type(exc).__name__})"
    return "migrations are pending: run `koppel-admin db upgrade`" if behind else None
