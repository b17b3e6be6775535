"""SQLite connections are kept and reused (opening one per unit of work cost as much as
the work), and stay correct: settings on every connection, concurrent writers beyond
the kept connections, a file replaced after ``dispose``."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from koppel.server.adapters.db.database import make_engine, sqlite_files


def test_units_of_work_reuse_one_connection_with_its_settings(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'k.sqlite3'}")
    opened: list[Any] = []
    event.listen(engine, "connect", lambda dbapi, _record: opened.append(dbapi))
    try:
        for _ in range(20):
            with engine.begin() as connection:
                assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
                assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
                assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert len(opened) == 1
        # Each unit of work holds the write lock from its start (BEGIN IMMEDIATE).
        with engine.begin():
            other = sqlite3.connect(tmp_path / "k.sqlite3", timeout=0, isolation_level=None)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            other.close()
    finally:
        engine.dispose()


def test_concurrent_writers_beyond_the_kept_connections_all_commit(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'k.sqlite3'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (writer INTEGER, n INTEGER)"))
    errors: list[BaseException] = []
    start = threading.Barrier(24)  # three times the kept connections

    def write(writer: int) -> None:
        try:
            start.wait(10)
            for n in range(20):
                with engine.begin() as connection:
                    # A read that turns into a write: BEGIN IMMEDIATE makes it queue.
                    count = connection.execute(text("SELECT count(*) FROM t")).scalar()
                    assert count is not None
                    connection.execute(text("INSERT INTO t VALUES (:w, :n)"), {"w": writer, "n": n})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert errors == []
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 24 * 20
    finally:
        engine.dispose()


def test_a_database_file_replaced_after_dispose_is_the_one_read(tmp_path: Path) -> None:
    path = tmp_path / "k.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (v TEXT)"))
        connection.execute(text("INSERT INTO t VALUES ('old')"))
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (v TEXT)")
        db.execute("INSERT INTO t VALUES ('new')")
    db.close()
    engine.dispose()  # what replaces the file closes the kept connections first
    assert not (tmp_path / "k.sqlite3-wal").exists()  # the log was checkpointed at close
    for stale in sqlite_files(path):
        stale.unlink(missing_ok=True)
    shutil.copyfile(other, path)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT v FROM t")).scalar() == "new"
    finally:
        engine.dispose()
