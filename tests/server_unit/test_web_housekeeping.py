"""Housekeeping of the portal's tables on a real (SQLite) database with a set clock."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from koppel.server.adapters.assembly import create_services
from koppel.server.adapters.housekeeping import Housekeeping
from koppel.server.config import ServerSettings
from koppel.server.domain.events import EVENT_RETENTION
from koppel.server.domain.model import Kind
from koppel.server.domain.portal import sessions as web_sessions
from koppel.server.domain.setup.administration import Admin
from koppel.server.services import Services


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[tuple[Services, Clock]]:
    services = create_services(ServerSettings(data_dir=tmp_path), migrate=True)
    clock = Clock()
    services.policy = replace(services.policy, clock=clock)
    with services.transaction() as uow:
        admin = Admin(uow.core, services.policy, "cli:test")
        admin.create_account("anna", "Anna", "koppel-demo")
        admin.create_environment("F10001", "Firm", Kind.FIRM, has_portal=True)
    yield services, clock
    services.database.dispose()


def test_purge_deletes_only_what_no_longer_counts(svc: tuple[Services, Clock]) -> None:
    services, clock = svc
    policy = services.policy
    with services.transaction() as uow:
        store = uow.portal
        account = uow.core.account("anna")
        portal = uow.core.environment("F10001")
        assert account and portal
        idle_cookie, _ = web_sessions.start(store, policy, account.id, portal.id, verified=True)
        store.add_failure("anna", "127.0.0.1", clock.now)
    clock.now += policy.session_idle / 2
    with services.transaction() as uow:
        store = uow.portal
        live_cookie, _ = web_sessions.start(store, policy, account.id, portal.id, verified=True)

    # Past the first session's idle limit and the first failure's lockout window; a
    # failure of a minute ago still counts.
    clock.now += policy.session_idle / 2 + timedelta(minutes=1)
    assert clock.now - policy.lockout > datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    with services.transaction() as uow:
        uow.portal.add_failure("anna", "10.0.0.1", clock.now - timedelta(minutes=1))
    purged = Housekeeping(services).run_once()
    assert (purged["portal sessions"], purged["sign-in failures"]) == (1, 1)
    with services.transaction() as uow:
        store = uow.portal
        assert web_sessions.resume(store, policy, idle_cookie) is None
        assert web_sessions.resume(store, policy, live_cookie) is not None
        since = clock.now - timedelta(days=1)
        assert len(store.failures(login="anna", since=since)) == 1
    assert not any(Housekeeping(services).run_once().values())


def test_old_events_go_but_the_newest_id_stays(svc: tuple[Services, Clock]) -> None:
    services, clock = svc
    with services.transaction() as uow:
        events = uow.events
        portal = uow.core.environment("F10001")
        assert portal
        first = events.add(portal.id, None, "file_ready", {"n": 1}, clock.now)
        second = events.add(portal.id, None, "file_ready", {"n": 2}, clock.now)
    clock.now += EVENT_RETENTION + timedelta(days=1)
    assert Housekeeping(services).run_once()["events"] == 1
    with services.transaction() as uow:
        events = uow.events
        # The newest stays, so ids (the streams' Last-Event-ID) are never handed out again.
        assert events.last_id() == second > first
        third = events.add(uow.core.environment("F10001").id, None, "x", {}, clock.now)  # type: ignore[union-attr]
        assert third > second


def test_ended_device_approvals_go(svc: tuple[Services, Clock]) -> None:
    from koppel.server.domain.portal import device_approval

    services, clock = svc

    def begin(code: str) -> None:
        with services.transaction() as uow:
            device_approval.start(
                uow.device_grants, services.policy, device_code=code,
                user_code=device_approval.new_user_code(), scope="settings:F10001",
                client_id="koppel-agent", workstation="laptop", address="10.0.0.1",
            )  # fmt: skip

    begin("old-device-code")
    clock.now += device_approval.GRANT_LIFETIME
    begin("new-device-code")
    # The old one's access token (at most ACCESS_LIFETIME after its expiry) is over too.
    clock.now += device_approval.ACCESS_LIFETIME + timedelta(seconds=1)
    assert Housekeeping(services).run_once()["device approvals"] == 1
    with services.transaction() as uow:
        store = uow.device_grants
        assert device_approval.by_device_code(store, "old-device-code") is None
        assert device_approval.by_device_code(store, "new-device-code") is not None


def test_housekeeping_folds_the_log_into_the_database_file(
    svc: tuple[Services, Clock], tmp_path: Path
) -> None:
    # The server keeps its SQLite connections open, so the write-ahead log is not folded
    # in when a unit of work ends: a copy of the database file alone (a backup taken by
    # copying) would miss recent work, even the tables, until the store settles.
    import shutil
    import sqlite3

    services, _ = svc
    database = tmp_path / "koppel.sqlite3"

    def accounts_in_a_copy() -> set[str]:
        copy = tmp_path / "copy.sqlite3"
        shutil.copyfile(database, copy)
        connection = sqlite3.connect(copy)
        try:
            return {row[0] for row in connection.execute("SELECT login FROM accounts")}
        except sqlite3.OperationalError:  # not even the tables yet
            return set()
        finally:
            connection.close()
            copy.unlink()

    with services.transaction() as uow:
        Admin(uow.core, services.policy, "cli:test").create_account("bert", "Bert", "pw-bert-1")
    assert "bert" not in accounts_in_a_copy()
    housekeeping = Housekeeping(services, interval=60)
    housekeeping.start()  # its first round runs at once
    deadline = time.monotonic() + 10
    while "bert" not in accounts_in_a_copy() and time.monotonic() < deadline:
        time.sleep(0.05)
    housekeeping.stop()
    assert accounts_in_a_copy() == {"anna", "bert"}
