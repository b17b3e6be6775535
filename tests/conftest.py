"""Fixtures: servers (served in this process, or ``koppel-server`` processes) and
workstations, stopped by the tests that start them."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from app_client import InProcess, make_in_process
from harness import Server, Workstation, make_server, make_workstation

CHROMIUM = "/usr/bin/chromium"

# The tests read English unless they choose a language (the machine's locale must not
# decide): the agents they start and the code they call in process speak KOPPEL_LANG.
os.environ["KOPPEL_LANG"] = "en"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A fresh, empty server on a free loopback port (served in this process)."""
    srv = make_server(tmp_path).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def demo_server_process(tmp_path: Path) -> Iterator[Server]:
    """``demo_server`` as a ``koppel-server`` process: for tests about the process (kills,
    restarts, its log)."""
    srv = make_server(tmp_path, process=True).start("--demo")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def demo_app(tmp_path: Path) -> Iterator[InProcess]:
    """The real app in process (no port) with the demo practice; see app_client.py."""
    made = make_in_process(tmp_path / "server")
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def empty_app(tmp_path: Path) -> Iterator[InProcess]:
    """The real app in process over a fresh, empty data folder (no demo practice)."""
    made = make_in_process(tmp_path / "server", demo=False)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def demo_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """A server with the demo practice (firm F10001, clients C20001-3, anna and bram),
    served on a real port by a thread of this process (for agents in subprocesses,
    browsers, ``check``'s probes), ``koppel-admin`` in process; see served_server.py.
    On SQLite and the blob folder, or on PostgreSQL + S3 for the tests marked
    ``backends.both_backends``."""
    import backends

    if getattr(request, "param", backends.SQLITE) == backends.POSTGRESQL_S3:
        cluster = request.getfixturevalue("postgres_cluster")
        bucket = request.getfixturevalue("s3_endpoint").new_bucket()
        made = make_server(
            tmp_path, database_url=cluster.create_database(f"koppel_{uuid.uuid4().hex[:8]}")
        )
        made.env["KOPPEL_BLOB_URL"] = bucket
    else:
        made = make_server(tmp_path)
    srv = made.start("--demo")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def workstation(tmp_path: Path) -> Callable[..., Workstation]:
    """Make workstations (isolated OS users) by name."""

    def make(name: str = "laptop", **extra: str) -> Workstation:
        return make_workstation(tmp_path, name, **extra)

    return make


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """Debian's chromium driven by Playwright, headless (installed by .ci/run)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    """A fresh browser context (own cookies) and page, with downloads allowed."""
    context = chromium.new_context(accept_downloads=True, viewport={"width": 1200, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[Any]:
    """moto's S3 server on loopback for this test process (see s3.py: production uses
    AWS S3, MinIO or Ceph RGW); each test takes a fresh bucket with ``new_bucket()``."""
    import s3

    running = s3.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Any]:
    """One throwaway PostgreSQL 15 cluster for this test process (tests take a fresh
    database each with ``create_database``), started on first use."""
    import postgres

    if not postgres.available():
        pytest.fail("PostgreSQL 15 binaries (initdb, pg_ctl) are not on the PATH")
    running = postgres.start_cluster()
    try:
        yield running
    finally:
        running.stop()
