"""The two storage set-ups the key end-to-end tests run on: SQLite + the local blob folder
(the default), and PostgreSQL 15 + an S3 bucket (production hosting, issue 14).

    @both_backends
    def test_submit_one_file(demo_server: Server, ...) -> None: ...

parametrizes ``demo_server`` (also when a test gets it through another fixture); the
PostgreSQL + S3 variant takes a fresh database in this test process's cluster and a fresh
bucket of its S3 server (moto on loopback; see s3.py), both started on first use."""

from __future__ import annotations

import pytest

SQLITE = "sqlite"
POSTGRESQL_S3 = "postgresql+s3"
both_backends = pytest.mark.parametrize(
    "demo_server",
    [SQLITE, pytest.param(POSTGRESQL_S3, marks=pytest.mark.postgres)],
    indirect=True,
)
