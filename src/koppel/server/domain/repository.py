"""What the domain needs from storage. The SQL adapter implements it; the domain never
sees a session, a query or a table.

One ``Repository`` is one unit of work: everything done through it commits together or
not at all (the adapter's context manager decides).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from koppel.protocol.functions import Function
from koppel.server.domain.model import (
    Account,
    AuditEntry,
    Authorization,
    Connector,
    EnrollmentCode,
    Environment,
    Group,
    Membership,
    MemberView,
    RevokeReason,
    TokenView,
    UserToken,
)


class Repository(Protocol):
    """Storage of the domain objects, in one transaction."""

    # --- accounts
    def account(self, login: str) -> Account | None:
        """The account with this login, if any."""
        ...

    def account_by_id(self, account_id: int) -> Account | None:
        """The account with this id, if any."""
        ...

    def accounts(self) -> list[Account]:
        """Every account, ordered by login."""
        ...

    def add_account(self, account: Account) -> Account:
        """Store a new account and return it with its id."""
        ...

    def save_account(self, account: Account) -> None:
        """Store changes to an existing account."""
        ...

    # --- environments
    def environment(self, code: str) -> Environment | None:
        """The environment with this code, if any."""
        ...

    def environment_by_id(self, environment_id: int) -> Environment | None:
        """The environment with this id, if any."""
        ...

    def environments(self, codes: Sequence[str] | None = None) -> list[Environment]:
        """Environments by code (all when None), ordered by code."""
        ...

    def clients_of(self, firm_id: int) -> list[Environment]:
        """The client environments a firm manages, ordered by code."""
        ...

    def add_environment(self, environment: Environment) -> Environment:
        """Store a new environment and return it with its id."""
        ...

    def save_environment(self, environment: Environment) -> None:
        """Store changes to an existing environment."""
        ...

    # --- memberships and groups
    def membership(self, environment_id: int, account_id: int) -> Membership | None:
        """The account's user in the environment, if any."""
        ...

    def membership_by_id(self, membership_id: int) -> Membership | None:
        """A membership by id."""
        ...

    def add_membership(self, membership: Membership) -> Membership:
        """Store a new membership and return it with its id."""
        ...

    def save_membership(self, membership: Membership) -> None:
        """Store changes to a membership."""
        ...

    def members(self, environment_ids: Sequence[int]) -> list[MemberView]:
        """Every user of these environments, with their accounts."""
        ...

    def memberships_of(self, account_id: int) -> list[Membership]:
        """Every environment user of one account."""
        ...

    def group(self, environment_id: int, name: str) -> Group | None:
        """A group of an environment by name."""
        ...

    def groups(self, environment_id: int) -> list[Group]:
        """An environment's groups, ordered by name."""
        ...

    def add_group(self, group: Group) -> Group:
        """Store a new group."""
        ...

    def group_member_ids(self, group_id: int) -> set[int]:
        """The memberships in a group."""
        ...

    def add_group_member(self, group_id: int, membership_id: int) -> None:
        """Put a membership in a group."""
        ...

    def remove_group_member(self, group_id: int, membership_id: int) -> None:
        """Take a membership out of a group."""
        ...

    # --- authorizations
    def authorizations(self, environment_id: int) -> list[Authorization]:
        """All grants in an environment."""
        ...

    def add_authorization(self, authorization: Authorization) -> Authorization:
        """Store a grant."""
        ...

    def remove_authorization(self, authorization_id: int) -> None:
        """Delete a grant."""
        ...

    def functions_of(self, membership_ids: Sequence[int]) -> dict[int, set[Function]]:
        """Effective functions (direct and through groups) of each membership."""
        ...

    # --- connectors
    def connectors(self, environment_ids: Sequence[int]) -> list[Connector]:
        """The app connectors of these environments."""
        ...

    def add_connector(self, connector: Connector) -> Connector:
        """Store a new connector."""
        ...

    def save_connector(self, connector: Connector) -> None:
        """Store a connector's blocked state."""
        ...

    # --- enrollment codes
    def add_enrollment(self, enrollment: EnrollmentCode) -> EnrollmentCode:
        """Store a new enrollment code."""
        ...

    def enrollments(self, public_ids: Sequence[str]) -> dict[str, EnrollmentCode]:
        """Enrollment codes by public id, locked for update where the database can."""
        ...

    def mark_enrollments_used(self, ids: Sequence[int], at: datetime) -> None:
        """Record that these codes were exchanged."""
        ...

    # --- user tokens
    def add_token(self, token: UserToken) -> UserToken:
        """Store a new user token."""
        ...

    def tokens_by_public_id(self, public_ids: Sequence[str]) -> dict[str, TokenView]:
        """Tokens with their membership, account and environment, by public id."""
        ...

    def tokens(
        self,
        environment_ids: Sequence[int] | None = None,
        account_id: int | None = None,
        include_revoked: bool = False,
    ) -> list[TokenView]:
        """Tokens of these environments and/or account, newest first."""
        ...

    def tokens_of_workstation(
        self,
        workstation: str,
        environment_ids: Sequence[int] | None = None,
        account_id: int | None = None,
    ) -> list[TokenView]:
        """Tokens (revoked ones too) whose workstation id or name is exactly
        ``workstation``, of these environments and/or account, newest first."""
        ...

    def workstation_names(
        self, environment_ids: Sequence[int] | None = None, account_id: int | None = None
    ) -> set[str]:
        """The workstation names tokens of these environments and/or account record."""
        ...

    def revoke_tokens(self, token_ids: Sequence[int], at: datetime, reason: RevokeReason) -> int:
        """Revoke tokens that are still active; return how many were."""
        ...

    def active_tokens_of_workstation(
        self, membership_ids: Sequence[int], workstation_id: str
    ) -> list[UserToken]:
        """Active tokens of these memberships on one workstation."""
        ...

    def touch_tokens(self, token_ids: Iterable[int], at: datetime) -> None:
        """Record that these tokens were used now."""
        ...

    # --- audit
    def add_audit(self, entry: AuditEntry) -> None:
        """Append an audit entry."""
        ...

    def audit_entries(
        self,
        environment: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        limit: int = 100,
        *,
        environments: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        offset: int = 0,
    ) -> list[AuditEntry]:
        """Audit entries, newest first, filtered: ``action`` is a prefix (``connector``
        matches ``connector.unblock``), ``environments`` any of these codes, ``since``
        inclusive and ``until`` exclusive; ``offset`` skips the newest entries (pages)."""
        ...

    # --- server secrets
    def signing_key(self) -> bytes:
        """The key that signs settings files; created on first use."""
        ...
