"""The upgrade procedure (issue 14): with ``KOPPEL_AUTO_MIGRATE=false``, as the deploy
files set, a replica never migrates by itself; on a database that lacks migrations of
its release it refuses to start (exit 6) and names the command that fixes it; after
``koppel-admin db upgrade`` it starts and is ready. Real ``koppel-server`` processes."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import create_engine

from harness import BIN, make_server, run
from koppel.server.adapters.db import migrate

SCHEMA_BEHIND = 6


def test_a_replica_on_a_schema_that_is_behind_refuses_and_names_the_fix(tmp_path: Path) -> None:
    server = make_server(tmp_path, process=True)
    server.env["KOPPEL_AUTO_MIGRATE"] = "false"
    server.data_dir.mkdir(parents=True)
    database = server.data_dir / "koppel.sqlite3"
    engine = create_engine(f"sqlite:///{database}")
    migrate.upgrade(engine, "0005")  # a release ago
    engine.dispose()

    started = run([str(BIN / "koppel-server")], server.env, server.data_dir)
    assert started.returncode == SCHEMA_BEHIND, started.output
    assert "koppel-admin db upgrade" in started.stderr and "0005" in started.stderr
    assert "Traceback" not in started.output
    engine = create_engine(f"sqlite:///{database}")
    current, head = migrate.revisions(engine)  # untouched
    engine.dispose()
    assert current == "0005" != head

    server.ok("db", "upgrade")
    server.start()
    try:
        ready = httpx.get(f"{server.url}/readyz", timeout=10)
        assert ready.status_code == 200 and ready.json()["checks"]["schema"] == "ok"
    finally:
        server.stop()


def test_a_new_host_without_auto_migration_is_told_to_create_its_database(
    tmp_path: Path,
) -> None:
    server = make_server(tmp_path, process=True)
    server.env["KOPPEL_AUTO_MIGRATE"] = "false"
    server.data_dir.mkdir(parents=True)
    started = run([str(BIN / "koppel-server")], server.env, server.data_dir)
    assert started.returncode == SCHEMA_BEHIND, started.output
    assert "koppel-admin db init" in started.stderr


def test_a_misspelt_variable_is_named_not_silently_ignored(tmp_path: Path) -> None:
    # KOPPEL_AUTOMIGRATE=false would leave replicas migrating by themselves, unnoticed.
    server = make_server(tmp_path, process=True)
    server.env.update(KOPPEL_AUTOMIGRATE="false", KOPPEL_BLOB_ULR="s3://bucket/p")
    server.data_dir.mkdir(parents=True)
    init = server.admin("db", "init")
    assert init.returncode == 0, init.output
    for wrong, meant in (("AUTOMIGRATE", "AUTO_MIGRATE"), ("BLOB_ULR", "BLOB_URL")):
        warning = f"KOPPEL_{wrong} is not a setting of the server and is ignored"
        assert f"{warning} (did you mean KOPPEL_{meant}?)" in init.stderr, init.stderr
    del server.env["KOPPEL_BLOB_ULR"]
    status = server.admin("db", "status")
    assert "KOPPEL_BLOB_ULR" not in status.stderr and "KOPPEL_AUTOMIGRATE" in status.stderr


def test_a_data_folder_that_cannot_be_used_is_named_without_a_traceback(tmp_path: Path) -> None:
    server = make_server(tmp_path, process=True)
    not_a_folder = tmp_path / "koppel-data"
    not_a_folder.write_text("a file where the data folder should be")
    server.env["KOPPEL_DATA_DIR"] = str(not_a_folder)
    for args in ([str(BIN / "koppel-server")], [str(BIN / "koppel-admin"), "db", "init"]):
        refused = run(args, server.env, tmp_path)
        assert refused.returncode == 2, refused.output
        assert f"the data folder {not_a_folder} cannot be used (it is a file, not a folder)" in (
            refused.stderr
        )
        assert "--data-dir" in refused.stderr and "Traceback" not in refused.output
        assert not_a_folder.read_text().startswith("a file")  # untouched
