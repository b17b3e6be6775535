"""Events: what agents learn about on their event stream (Server-Sent Events).

Every event belongs to one environment and either to one user there (a membership) or,
with no membership, to everyone in it. Its id grows with every event and is the SSE
``id:``: an agent that reconnects with ``Last-Event-ID`` gets every later event.

An event session's id is the only credential of its stream, so it has the shape of a
token (``kpes_<public id>_<secret>``): the row is found by the public id and only the
SHA-256 of the secret is stored, compared in constant time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from koppel.i18n import gettext as _
from koppel.protocol.api import StatusQuery
from koppel.protocol.errors import ErrorCode
from koppel.protocol.secrets import new_secret, split_secret
from koppel.server.domain.errors import DomainError
from koppel.server.domain.hashing import hash_secret, secret_matches
from koppel.server.domain.links import workstation_tokens
from koppel.server.domain.policy import Policy
from koppel.server.domain.repository import Repository

FILE_READY = "file_ready"
FILE_FAILED = "file_failed"
TOKEN_REVOKED = "token_revoked"
ENVIRONMENT_CONVERTED = "environment_converted"
CONNECTOR_BLOCKED = "connector_blocked"

SESSION_PREFIX = "kpes_"
# A session is only a handle for one stream; the agent opens a new one when it expires.
SESSION_LIFETIME = timedelta(hours=12)
# Events older than this are deleted: a watcher away longer catches up through the list of
# undelivered files, which does not need them.
EVENT_RETENTION = timedelta(days=30)


@dataclass(frozen=True)
class Event:
    """One recorded event."""

    id: int
    environment_id: int
    membership_id: int | None
    kind: str
    payload: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class Scope:
    """What one subscriber may see: its users' own events and their environments' events."""

    membership_ids: tuple[int, ...]
    environment_ids: tuple[int, ...]


@dataclass(frozen=True)
class EventHead:
    """Whom an event concerns, without its payload: enough to tell which streams need it."""

    id: int
    environment_id: int
    membership_id: int | None


def in_scope(head: EventHead, scope: Scope) -> bool:
    """Whether a subscriber with ``scope`` sees the event (as EventRepository.after)."""
    if head.membership_id is not None:
        return head.membership_id in scope.membership_ids
    return head.environment_id in scope.environment_ids


@dataclass(frozen=True)
class StreamSession:
    """An event session: the scope of one agent on one server, until it expires."""

    public_id: str
    secret_hash: str  # SHA-256 of the secret part of the session id
    workstation_id: str
    scope: Scope
    environment_codes: dict[int, str]
    created_at: datetime
    expires_at: datetime
    token_ids: tuple[str, ...] = ()  # public ids of the tokens that opened it


@dataclass
class SessionOpened:
    """A session and the environments that could not join it."""

    session: StreamSession
    handle: str  # the session id the agent streams with: handed out once, never stored
    refused: list[tuple[str, str, str]] = field(default_factory=list)  # (env, code, message)
    last_event_id: int = 0


class EventPublisher(Protocol):
    """How this process says it committed events or jobs, so that whoever waits for them
    (event streams, job workers) looks now instead of at its next poll."""

    def published(self) -> None:
        """Events or jobs were committed: wake the event streams and job workers."""
        ...


class EventFeed(Protocol):
    """The newest event id known to this process, and waiting for a newer one."""

    @property
    def latest(self) -> int:
        """The newest event id seen."""
        ...

    @property
    def stopped(self) -> bool:
        """Whether streams should end (the server is stopping, or the feed never ran)."""
        ...

    async def wait_beyond(self, cursor: int, timeout: float, scope: Scope | None = None) -> int:
        """Wait until an event newer than ``cursor`` may exist (or ``timeout``); the
        newest id known. With ``scope``, events outside it need not end the wait."""
        ...

    def concerns(self, after: int, upto: int, scope: Scope) -> bool:
        """Whether events after ``after`` up to ``upto`` may include one in ``scope``
        (True when this process does not know: the stream then reads them)."""
        ...


class EventRepository(Protocol):
    """Storage of events and event sessions."""

    def add(
        self,
        environment_id: int,
        membership_id: int | None,
        kind: str,
        payload: dict[str, Any],
        at: datetime,
    ) -> int:
        """Record an event; its id."""
        ...

    def after(self, event_id: int, scope: Scope, limit: int = 500) -> list[Event]:
        """Events after ``event_id`` in ``scope``, oldest first."""
        ...

    def heads(self, after: int, upto: int) -> list[EventHead]:
        """Whom each event after ``after`` up to ``upto`` concerns, oldest first."""
        ...

    def last_id(self) -> int:
        """The newest event's id (0 when there is none)."""
        ...

    def add_session(self, session: StreamSession) -> None:
        """Store a new event session."""
        ...

    def session(self, public_id: str) -> StreamSession | None:
        """An event session by its public id."""
        ...

    def delete_before(self, events_before: datetime, sessions_expired_by: datetime) -> int:
        """Delete events created before ``events_before`` (never the newest, whose id
        must not be handed out again) and sessions expired by ``sessions_expired_by``;
        how many rows."""
        ...


def record(
    events: EventRepository,
    at: datetime,
    environment_id: int,
    kind: str,
    membership_id: int | None = None,
    **payload: Any,
) -> int:
    """Record one event for a user (``membership_id``) or for everyone in an environment."""
    return events.add(environment_id, membership_id, kind, dict(payload), at)


def open_session(
    repo: Repository,
    events: EventRepository,
    policy: Policy,
    agent_update: str,
    queries: Sequence[StatusQuery],
    workstation_id: str,
) -> SessionOpened:
    """Validate every token in bulk and open one session for all the valid ones."""
    memberships: list[int] = []
    environments: dict[int, str] = {}
    token_ids: list[str] = []
    refused: list[tuple[str, str, str]] = []
    for checked in workstation_tokens.check(repo, policy, agent_update, queries, workstation_id):
        if checked.view is None:
            refused.append((checked.environment, checked.state, checked.message or ""))
            continue
        view = checked.view
        memberships.append(view.membership.id)
        environments[view.environment.id] = view.environment.code
        token_ids.append(view.token.public_id)
    if not environments:
        raise DomainError(
            ErrorCode(refused[0][1]) if refused else ErrorCode.VALIDATION_ERROR,
            _("No environment of this request may follow events: {refusals}").format(
                refusals="; ".join(f"{env}: {message}" for env, _state, message in refused)
            )
            if refused
            else _("Name at least one environment and its token."),
        )
    now = policy.clock()
    handle, credential = new_secret(SESSION_PREFIX)
    session = StreamSession(
        public_id=credential.public_id,
        secret_hash=hash_secret(credential.secret),
        workstation_id=workstation_id,
        scope=Scope(tuple(sorted(set(memberships))), tuple(sorted(environments))),
        environment_codes=environments,
        created_at=now,
        expires_at=now + SESSION_LIFETIME,
        token_ids=tuple(token_ids),
    )
    events.add_session(session)
    return SessionOpened(session, handle, refused, events.last_id())


def session_for_stream(events: EventRepository, policy: Policy, handle: str) -> StreamSession:
    """The session a session id opens, or ``not_found`` when it is unknown, forged or
    expired."""
    parts = split_secret(handle, SESSION_PREFIX)
    session = events.session(parts.public_id) if parts else None
    if (
        parts is None
        or session is None
        or not secret_matches(session.secret_hash, parts.secret)
        or session.expires_at <= policy.clock()
    ):
        raise DomainError(
            ErrorCode.NOT_FOUND,
            _(
                "This event session is unknown or expired; open a new one (POST "
                "/api/v1/event-sessions)."
            ),
        )
    return session


def still_allowed(repo: Repository, policy: Policy, session: StreamSession) -> set[int]:
    """The environments (ids) whose token in the session is still valid: a revoked or
    expired token's environment gets its ``token_revoked`` event, then nothing more."""
    now = policy.clock()
    views = repo.tokens_by_public_id(list(session.token_ids))
    return {v.environment.id for v in views.values() if v.token.usable(now)}


def visible(found: Sequence[Event], allowed: set[int]) -> list[Event]:
    """The events a session may still see (see :func:`still_allowed`)."""
    return [e for e in found if e.environment_id in allowed or e.kind == TOKEN_REVOKED]


def purge(events: EventRepository, policy: Policy) -> int:
    """Housekeeping: forget events past ``EVENT_RETENTION`` and expired event sessions."""
    now = policy.clock()
    return events.delete_before(now - EVENT_RETENTION, now)
