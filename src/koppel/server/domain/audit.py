"""Recording administrative changes."""

from __future__ import annotations

from koppel.server.domain.model import AuditEntry
from koppel.server.domain.policy import Policy
from koppel.server.domain.repository import Repository


def record(
    repo: Repository,
    policy: Policy,
    actor: str,
    action: str,
    environment: str | None = None,
    **detail: object,
) -> None:
    """Append an audit entry for one change (callers skip it when nothing changed)."""
    repo.add_audit(
        AuditEntry(
            at=policy.clock(), actor=actor, action=action, environment=environment, detail=detail
        )
    )
