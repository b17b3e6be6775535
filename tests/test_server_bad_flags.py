"""``koppel-server`` and ``koppel-server worker`` refuse a bad option value in one plain
line with a distinct exit code, never a traceback, and start nothing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from harness import BIN


def _server(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KOPPEL_")}
    return subprocess.run(
        [str(BIN / "koppel-server"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, "KOPPEL_DATA_DIR": str(tmp_path / "data"), **env},
    )


def test_bad_values_are_refused_plainly(tmp_path: Path) -> None:
    cases = (
        (["--data-dir", "/etc/passwd"], {}, 2, "is a file, not a folder"),
        (["--port", "abc"], {}, 2, "--port"),
        (["--port", "99999"], {}, 2, "99999 is not a port"),
        ([], {"KOPPEL_PORT": "70000"}, 2, "70000 is not a port"),
        (["--host", "no-such-host.invalid"], {}, 2, "cannot listen on 'no-such-host.invalid'"),
        (["--log-level", "loud"], {}, 2, "'loud' is not a log level"),
        (["worker", "--log-level", "loud"], {}, 2, "'loud' is not a log level"),
        (["--database-url", "bogus://"], {}, 2, "KOPPEL_DATABASE_URL: write it as postgresql"),
        (
            ["--database-url", "postgresql+psycopg://koppel@127.0.0.1:1/koppel"],
            {},
            7,
            "cannot open the database",
        ),
        (["worker", "--threads", "0"], {}, 2, "--threads"),
        (["--bogus"], {}, 2, "--bogus"),
    )
    for args, env, code, words in cases:
        done = _server(tmp_path, *args, **env)
        assert done.returncode == code, (args, done.stderr)
        assert words in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr, (args, done.stderr)
    # Nothing was created by a refused start (the data folder is made by a real start).
    assert not (tmp_path / "data" / "koppel.sqlite3").exists()


def test_koppel_admin_refuses_bad_values_plainly(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KOPPEL_")}
    cases = (
        (["--database-url", "bogus://x", "env", "list"], 2, "KOPPEL_DATABASE_URL: write it as"),
        (["--data-dir", "/etc/passwd", "env", "list"], 4, "no Koppel database at /etc/passwd"),
        (["env", "list", "--bogus"], 2, "--bogus"),
    )
    for args, code, words in cases:
        done = subprocess.run(
            [str(BIN / "koppel-admin"), *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**clean, "KOPPEL_DATA_DIR": str(tmp_path / "data")},
        )
        assert done.returncode == code, (args, done.stderr)
        assert words in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr and "unexpected failure" not in done.stderr
