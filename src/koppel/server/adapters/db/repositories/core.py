"""The domain's ``Repository`` on SQLAlchemy Core, within one connection's transaction."""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql import Select

from koppel.protocol.functions import Function
from koppel.server.adapters.db import sealed
from koppel.server.adapters.db.tables import core as t
from koppel.server.domain.model import (
    Account,
    AuditEntry,
    Authorization,
    Connector,
    ConnectorName,
    EnrollmentCode,
    Environment,
    Group,
    Kind,
    Membership,
    MemberView,
    RevokeReason,
    TokenView,
    UserToken,
)

# SQLite allows 32766 bound parameters; stay far below for any database.
_CHUNK = 900
T = TypeVar("T")


def _chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _now() -> datetime:
    return datetime.now(UTC)


# What an account chooses for itself (or an administrator for it).
_ACCOUNT_CHOICES = ("email", "language", "time_zone")


def _account(row: Row[Any]) -> Account:
    return Account(
        login=row.login,
        display_name=row.display_name,
        password_hash=row.password_hash,
        disabled=row.disabled,
        email=row.email,
        language=row.language,
        time_zone=row.time_zone,
        id=row.id,
    )


def _environment(row: Row[Any]) -> Environment:
    return Environment(
        code=row.code,
        name=row.name,
        kind=Kind(row.kind),
        update=row.update,
        has_portal=row.has_portal,
        main_site_url=row.main_site_url,
        api_url=row.api_url,
        firm_id=row.firm_id,
        language=row.language,
        time_zone=row.time_zone,
        id=row.id,
    )


def _membership(row: Row[Any]) -> Membership:
    return Membership(row.environment_id, row.account_id, row.portal_access, row.id)


def _token(row: Row[Any]) -> UserToken:
    return UserToken(
        public_id=row.public_id,
        secret_hash=row.secret_hash,
        membership_id=row.membership_id,
        connector=ConnectorName(row.connector),
        workstation_id=row.workstation_id,
        workstation_name=row.workstation_name,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
        revoked_reason=RevokeReason(row.revoked_reason) if row.revoked_reason else None,
        id=row.id,
    )


def _fields(obj: object, *names: str) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in names}


_ENV_FIELDS = (
    "code",
    "name",
    "kind",
    "update",
    "has_portal",
    "main_site_url",
    "api_url",
    "firm_id",
    "language",
    "time_zone",
)


class SqlRepository:
    """Implements ``koppel.server.domain.repository.Repository``."""

    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def _insert(self, table: Any, values: dict[str, Any]) -> int:
        result = self.c.execute(insert(table).values(**values))
        key = result.inserted_primary_key
        return int(key[0]) if key else 0

    # --- accounts
    def account(self, login: str) -> Account | None:
        row = self.c.execute(select(t.accounts).where(t.accounts.c.login == login)).first()
        return _account(row) if row else None

    def account_by_id(self, account_id: int) -> Account | None:
        row = self.c.execute(select(t.accounts).where(t.accounts.c.id == account_id)).first()
        return _account(row) if row else None

    def accounts(self) -> list[Account]:
        rows = self.c.execute(select(t.accounts).order_by(t.accounts.c.login))
        return [_account(r) for r in rows]

    def add_account(self, account: Account) -> Account:
        values = _fields(
            account, "login", "display_name", "password_hash", "disabled", *_ACCOUNT_CHOICES
        )
        account.id = self._insert(t.accounts, {**values, "created_at": _now()})
        return account

    def save_account(self, account: Account) -> None:
        values = _fields(account, "display_name", "password_hash", "disabled", *_ACCOUNT_CHOICES)
        self.c.execute(update(t.accounts).where(t.accounts.c.id == account.id).values(**values))

    # --- environments
    def environment(self, code: str) -> Environment | None:
        row = self.c.execute(select(t.environments).where(t.environments.c.code == code)).first()
        return _environment(row) if row else None

    def environment_by_id(self, environment_id: int) -> Environment | None:
        row = self.c.execute(
            select(t.environments).where(t.environments.c.id == environment_id)
        ).first()
        return _environment(row) if row else None

    def environments(self, codes: Sequence[str] | None = None) -> list[Environment]:
        query = select(t.environments).order_by(t.environments.c.code)
        if codes is None:
            return [_environment(r) for r in self.c.execute(query)]
        found = [
            _environment(r)
            for chunk in _chunks(sorted(set(codes)))
            for r in self.c.execute(query.where(t.environments.c.code.in_(chunk)))
        ]
        return sorted(found, key=lambda e: e.code)

    def clients_of(self, firm_id: int) -> list[Environment]:
        query = (
            select(t.environments)
            .where(t.environments.c.firm_id == firm_id)
            .order_by(t.environments.c.code)
        )
        return [_environment(r) for r in self.c.execute(query)]

    def add_environment(self, environment: Environment) -> Environment:
        values = _fields(environment, *_ENV_FIELDS)
        values["kind"] = environment.kind.value
        environment.id = self._insert(t.environments, {**values, "created_at": _now()})
        return environment

    def save_environment(self, environment: Environment) -> None:
        values = _fields(environment, *_ENV_FIELDS)
        values["kind"] = environment.kind.value
        self.c.execute(
            update(t.environments).where(t.environments.c.id == environment.id).values(**values)
        )

    # --- memberships and groups
    def membership(self, environment_id: int, account_id: int) -> Membership | None:
        m = t.memberships.c
        row = self.c.execute(
            select(t.memberships).where(
                and_(m.environment_id == environment_id, m.account_id == account_id)
            )
        ).first()
        return _membership(row) if row else None

    def membership_by_id(self, membership_id: int) -> Membership | None:
        row = self.c.execute(
            select(t.memberships).where(t.memberships.c.id == membership_id)
        ).first()
        return _membership(row) if row else None

    def add_membership(self, membership: Membership) -> Membership:
        values = _fields(membership, "environment_id", "account_id", "portal_access")
        membership.id = self._insert(t.memberships, {**values, "created_at": _now()})
        return membership

    def save_membership(self, membership: Membership) -> None:
        self.c.execute(
            update(t.memberships)
            .where(t.memberships.c.id == membership.id)
            .values(portal_access=membership.portal_access)
        )

    def members(self, environment_ids: Sequence[int]) -> list[MemberView]:
        m, a = t.memberships, t.accounts
        base = (
            select(
                m.c.id.label("m_id"),
                m.c.environment_id,
                m.c.account_id,
                m.c.portal_access,
                a,
            )
            .join(a, a.c.id == m.c.account_id)
            .order_by(a.c.login)
        )
        views = []
        for chunk in _chunks(sorted(set(environment_ids))):
            for row in self.c.execute(base.where(m.c.environment_id.in_(chunk))):
                membership = Membership(
                    row.environment_id, row.account_id, row.portal_access, row.m_id
                )
                views.append(MemberView(membership, _account(row)))
        return views

    def memberships_of(self, account_id: int) -> list[Membership]:
        rows = self.c.execute(select(t.memberships).where(t.memberships.c.account_id == account_id))
        return [_membership(r) for r in rows]

    def group(self, environment_id: int, name: str) -> Group | None:
        g = t.groups.c
        row = self.c.execute(
            select(t.groups).where(and_(g.environment_id == environment_id, g.name == name))
        ).first()
        return Group(row.environment_id, row.name, row.id) if row else None

    def groups(self, environment_id: int) -> list[Group]:
        g = t.groups.c
        rows = self.c.execute(
            select(t.groups).where(g.environment_id == environment_id).order_by(g.name)
        )
        return [Group(r.environment_id, r.name, r.id) for r in rows]

    def add_group(self, group: Group) -> Group:
        group.id = self._insert(t.groups, _fields(group, "environment_id", "name"))
        return group

    def group_member_ids(self, group_id: int) -> set[int]:
        gm = t.group_members.c
        return {
            r.membership_id
            for r in self.c.execute(select(gm.membership_id).where(gm.group_id == group_id))
        }

    def add_group_member(self, group_id: int, membership_id: int) -> None:
        self._insert(t.group_members, {"group_id": group_id, "membership_id": membership_id})

    def remove_group_member(self, group_id: int, membership_id: int) -> None:
        gm = t.group_members.c
        self.c.execute(
            delete(t.group_members).where(
                and_(gm.group_id == group_id, gm.membership_id == membership_id)
            )
        )

    # --- authorizations
    def authorizations(self, environment_id: int) -> list[Authorization]:
        rows = self.c.execute(
            select(t.authorizations).where(t.authorizations.c.environment_id == environment_id)
        )
        return [
            Authorization(r.environment_id, Function(r.function), r.group_id, r.membership_id, r.id)
            for r in rows
        ]

    def add_authorization(self, authorization: Authorization) -> Authorization:
        values = _fields(authorization, "environment_id", "group_id", "membership_id")
        authorization.id = self._insert(
            t.authorizations, {**values, "function": authorization.function.value}
        )
        return authorization

    def remove_authorization(self, authorization_id: int) -> None:
        self.c.execute(delete(t.authorizations).where(t.authorizations.c.id == authorization_id))

    def functions_of(self, membership_ids: Sequence[int]) -> dict[int, set[Function]]:
        a, gm = t.authorizations.c, t.group_members.c
        held: dict[int, set[Function]] = defaultdict(set)
        for chunk in _chunks(sorted(set(membership_ids))):
            direct = select(a.membership_id, a.function).where(a.membership_id.in_(chunk))
            via_groups = (
                select(gm.membership_id, a.function)
                .join(t.authorizations, a.group_id == gm.group_id)
                .where(gm.membership_id.in_(chunk))
            )
            for query in (direct, via_groups):
                for row in self.c.execute(query):
                    held[row.membership_id].add(Function(row.function))
        return dict(held)

    # --- connectors
    def connectors(self, environment_ids: Sequence[int]) -> list[Connector]:
        c = t.connectors.c
        found = []
        for chunk in _chunks(sorted(set(environment_ids))):
            for r in self.c.execute(select(t.connectors).where(c.environment_id.in_(chunk))):
                found.append(Connector(r.environment_id, ConnectorName(r.name), r.blocked, r.id))
        return found

    def add_connector(self, connector: Connector) -> Connector:
        connector.id = self._insert(
            t.connectors,
            {
                "environment_id": connector.environment_id,
                "name": connector.name.value,
                "blocked": connector.blocked,
            },
        )
        return connector

    def save_connector(self, connector: Connector) -> None:
        self.c.execute(
            update(t.connectors)
            .where(t.connectors.c.id == connector.id)
            .values(blocked=connector.blocked)
        )

    # --- enrollment codes
    def add_enrollment(self, enrollment: EnrollmentCode) -> EnrollmentCode:
        values = _fields(
            enrollment, "public_id", "secret_hash", "membership_id", "created_at", "expires_at"
        )
        enrollment.id = self._insert(t.enrollments, values)
        return enrollment

    def enrollments(self, public_ids: Sequence[str]) -> dict[str, EnrollmentCode]:
        e = t.enrollments.c
        found = {}
        for chunk in _chunks(sorted(set(public_ids))):
            query: Select[Any] = select(t.enrollments).where(e.public_id.in_(chunk))
            if self.c.dialect.name == "postgresql":
                query = query.with_for_update()  # single use under concurrent link calls
            for r in self.c.execute(query):
                found[r.public_id] = EnrollmentCode(
                    r.public_id,
                    r.secret_hash,
                    r.membership_id,
                    r.created_at,
                    r.expires_at,
                    r.used_at,
                    r.id,
                )
        return found

    def mark_enrollments_used(self, ids: Sequence[int], at: datetime) -> None:
        e = t.enrollments.c
        for chunk in _chunks(list(ids)):
            self.c.execute(
                update(t.enrollments)
                .where(and_(e.id.in_(chunk), e.used_at.is_(None)))
                .values(used_at=at)
            )

    # --- user tokens
    def add_token(self, token: UserToken) -> UserToken:
        values = _fields(
            token,
            "public_id",
            "secret_hash",
            "membership_id",
            "workstation_id",
            "workstation_name",
            "created_at",
            "expires_at",
        )
        token.id = self._insert(t.user_tokens, {**values, "connector": token.connector.value})
        return token

    def _token_views(self, *conditions: Any) -> list[TokenView]:
        u, m, a, env = t.user_tokens, t.memberships, t.accounts, t.environments
        conn = t.connectors
        query = (
            select(
                u,
                m.c.environment_id.label("m_environment_id"),
                m.c.account_id.label("m_account_id"),
                m.c.portal_access.label("m_portal_access"),
                a.c.login,
                a.c.display_name,
                a.c.password_hash,
                a.c.disabled,
                a.c.language.label("a_language"),
                env.c.code,
                env.c.name,
                env.c.kind,
                env.c.update,
                env.c.has_portal,
                env.c.main_site_url,
                env.c.api_url,
                env.c.firm_id,
                env.c.language,
                env.c.time_zone,
                conn.c.blocked.label("connector_blocked"),
            )
            .join(m, m.c.id == u.c.membership_id)
            .join(a, a.c.id == m.c.account_id)
            .join(env, env.c.id == m.c.environment_id)
            # At most one row: a connector's name is unique in its environment.
            .outerjoin(
                conn,
                (conn.c.environment_id == m.c.environment_id) & (conn.c.name == u.c.connector),
            )
            .where(*conditions)
            .order_by(u.c.created_at.desc(), u.c.id.desc())
        )
        views = []
        for row in self.c.execute(query):
            membership = Membership(
                row.m_environment_id, row.m_account_id, row.m_portal_access, row.membership_id
            )
            account = Account(
                row.login,
                row.display_name,
                row.password_hash,
                row.disabled,
                language=row.a_language,
                id=row.m_account_id,
            )
            environment = Environment(
                code=row.code,
                name=row.name,
                kind=Kind(row.kind),
                update=row.update,
                has_portal=row.has_portal,
                main_site_url=row.main_site_url,
                api_url=row.api_url,
                firm_id=row.firm_id,
                language=row.language,
                time_zone=row.time_zone,
                id=row.m_environment_id,
            )
            blocked = bool(row.connector_blocked)  # no such connector: not blocked
            views.append(TokenView(_token(row), membership, account, environment, blocked))
        return views

    def tokens_by_public_id(self, public_ids: Sequence[str]) -> dict[str, TokenView]:
        found = {}
        for chunk in _chunks(sorted(set(public_ids))):
            for view in self._token_views(t.user_tokens.c.public_id.in_(chunk)):
                found[view.token.public_id] = view
        return found

    def tokens(
        self,
        environment_ids: Sequence[int] | None = None,
        account_id: int | None = None,
        include_revoked: bool = False,
    ) -> list[TokenView]:
        conditions: list[Any] = []
        if environment_ids is not None:
            conditions.append(t.memberships.c.environment_id.in_(list(environment_ids)))
        if account_id is not None:
            conditions.append(t.memberships.c.account_id == account_id)
        if not include_revoked:
            conditions.append(t.user_tokens.c.revoked_at.is_(None))
        return self._token_views(*conditions)

    def tokens_of_workstation(
        self,
        workstation: str,
        environment_ids: Sequence[int] | None = None,
        account_id: int | None = None,
    ) -> list[TokenView]:
        u = t.user_tokens.c
        conditions: list[Any] = [
            or_(u.workstation_id == workstation, u.workstation_name == workstation)
        ]
        if account_id is not None:
            conditions.append(t.memberships.c.account_id == account_id)
        if environment_ids is None:
            return self._token_views(*conditions)
        views = []
        for chunk in _chunks(sorted(set(environment_ids))):
            views += self._token_views(*conditions, t.memberships.c.environment_id.in_(chunk))
        views.sort(key=lambda v: (v.token.created_at, v.token.id), reverse=True)
        return views

    def workstation_names(
        self, environment_ids: Sequence[int] | None = None, account_id: int | None = None
    ) -> set[str]:
        m = t.memberships
        query = (
            select(t.user_tokens.c.workstation_name)
            .distinct()
            .join(m, m.c.id == t.user_tokens.c.membership_id)
        )
        if account_id is not None:
            query = query.where(m.c.account_id == account_id)
        if environment_ids is None:
            return {row[0] for row in self.c.execute(query)}
        names: set[str] = set()
        for chunk in _chunks(sorted(set(environment_ids))):
            chunk_query = query.where(m.c.environment_id.in_(chunk))
            names |= {row[0] for row in self.c.execute(chunk_query)}
        return names

    def revoke_tokens(self, token_ids: Sequence[int], at: datetime, reason: RevokeReason) -> int:
        u = t.user_tokens.c
        count = 0
        for chunk in _chunks(list(token_ids)):
            result = self.c.execute(
                update(t.user_tokens)
                .where(and_(u.id.in_(chunk), u.revoked_at.is_(None)))
                .values(revoked_at=at, revoked_reason=reason.value)
            )
            count += result.rowcount
        return count

    def active_tokens_of_workstation(
        self, membership_ids: Sequence[int], workstation_id: str
    ) -> list[UserToken]:
        u = t.user_tokens.c
        found = []
        for chunk in _chunks(sorted(set(membership_ids))):
            query = select(t.user_tokens).where(
                and_(
                    u.membership_id.in_(chunk),
                    u.workstation_id == workstation_id,
                    u.revoked_at.is_(None),
                )
            )
            found += [_token(r) for r in self.c.execute(query)]
        return found

    def touch_tokens(self, token_ids: Iterable[int], at: datetime) -> None:
        u = t.user_tokens.c
        for chunk in _chunks(sorted(set(token_ids))):
            self.c.execute(update(t.user_tokens).where(u.id.in_(chunk)).values(last_used_at=at))

    # --- audit
    def add_audit(self, entry: AuditEntry) -> None:
        values = _fields(entry, "at", "actor", "action", "environment", "detail")
        entry.id = self._insert(t.audit_entries, values)

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
        c = t.audit_entries.c
        query = select(t.audit_entries).order_by(c.id.desc()).limit(limit).offset(offset)
        if environment:
            query = query.where(c.environment == environment)
        if environments is not None:
            query = query.where(c.environment.in_(list(environments)))
        if since is not None:
            query = query.where(c.at >= since)
        if until is not None:
            query = query.where(c.at < until)
        if actor:
            query = query.where(c.actor == actor)
        if action:
            query = query.where(or_(c.action == action, c.action.like(f"{action}.%")))
        return [
            AuditEntry(r.at, r.actor, r.action, r.environment, dict(r.detail), r.id)
            for r in self.c.execute(query)
        ]

    # --- server secrets
    def signing_key(self) -> bytes:
        # Stored encrypted with the server's secret key (adapters/db/sealed.py).
        name = "settings-signing"
        purpose = sealed.server_secret_purpose(name)
        s = t.server_secrets.c
        row = self.c.execute(select(s.value).where(s.name == name)).first()
        if row:
            return sealed.open_bytes(self.c, bytes(row.value), purpose)
        key = secrets.token_bytes(32)
        stored = sealed.seal_bytes(self.c, key, purpose)
        self.c.execute(insert(t.server_secrets).values(name=name, value=stored))
        return key
