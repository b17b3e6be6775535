"""The server's domain objects (DESIGN.md, "Domain model")."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from koppel.protocol.functions import Function


class Kind(StrEnum):
    """Whether an environment is the firm's own or one of its clients'."""

    FIRM = "firm"
    CLIENT = "client"


class ConnectorName(StrEnum):
    """The app connectors every environment has; each starts blocked."""

    COMMUNICATION_CENTER = "communication-center"
    TEMPORARY_OFFICE_ACCESS = "temporary-office-access"


class RevokeReason(StrEnum):
    """Why a user token stopped working; the agent tells the user which."""

    ADMINISTRATOR = "administrator"
    REPLACED = "replaced"
    UNLINKED = "unlinked"
    ENVIRONMENT_DELETED = "environment_deleted"
    USER = "user"


@dataclass
class Account:
    """One login identity on the server; the same person may be a user in many environments."""

    login: str
    display_name: str
    password_hash: str
    disabled: bool = False
    email: str | None = None  # where a forgotten password's reset link goes
    language: str | None = None  # "nl", "fr" or "en"; None: the browser's, else the portal's
    time_zone: str | None = None  # IANA name; None: the environment's default
    id: int = 0


@dataclass
class Environment:
    """A business-administration environment: the firm's own or a client's."""

    code: str
    name: str
    kind: Kind
    update: str
    has_portal: bool = False
    main_site_url: str | None = None
    api_url: str | None = None
    firm_id: int | None = None
    language: str | None = None  # the portal's language for users who chose none
    time_zone: str | None = None  # the portal's time zone (None: Europe/Amsterdam)
    id: int = 0


@dataclass
class Membership:
    """An account's user in one environment."""

    environment_id: int
    account_id: int
    portal_access: bool = False
    id: int = 0


@dataclass
class Group:
    """A named set of users of one environment; authorizations can be granted to it."""

    environment_id: int
    name: str
    id: int = 0


@dataclass
class Authorization:
    """A function granted in one environment to a group or directly to one user."""

    environment_id: int
    function: Function
    group_id: int | None = None
    membership_id: int | None = None
    id: int = 0


@dataclass
class Connector:
    """An app connector of one environment."""

    environment_id: int
    name: ConnectorName
    blocked: bool = True
    id: int = 0


LAST_USED_PRECISION = timedelta(minutes=1)


@dataclass
class UserToken:
    """A user's token under an app connector, for one membership on one workstation."""

    public_id: str
    secret_hash: str
    membership_id: int
    connector: ConnectorName
    workstation_id: str
    workstation_name: str
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_reason: RevokeReason | None = None
    id: int = 0

    def expired(self, now: datetime) -> bool:
        """Whether its lifetime has run out (whether or not it was also revoked)."""
        return self.expires_at is not None and self.expires_at <= now

    def usable(self, now: datetime) -> bool:
        """Neither revoked nor expired."""
        return self.revoked_at is None and not self.expired(now)

    def use_worth_recording(self, now: datetime) -> bool:
        """Whether a use at ``now`` should update ``last_used_at``: it is kept to the
        minute, because recording every request made each one a database write (an
        fsync per request; a 200-file submission is 400 of them)."""
        return self.last_used_at is None or now - self.last_used_at >= LAST_USED_PRECISION


@dataclass
class EnrollmentCode:
    """What a settings file carries: single use, short-lived, bound to one membership."""

    public_id: str
    secret_hash: str
    membership_id: int
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    id: int = 0


@dataclass
class AuditEntry:
    """Who changed what, when, in which environment."""

    at: datetime
    actor: str
    action: str
    environment: str | None = None
    detail: dict[str, object] = field(default_factory=dict)
    id: int = 0


@dataclass(frozen=True)
class MemberView:
    """A membership with what the procedure needs to know of its account."""

    membership: Membership
    account: Account


@dataclass(frozen=True)
class TokenView:
    """A token with the membership, account and environment it belongs to."""

    token: UserToken
    membership: Membership
    account: Account
    environment: Environment
    # Whether the token's app connector is blocked in its environment, read together
    # with the token on every request (one query less per request; never cached).
    connector_blocked: bool = False
