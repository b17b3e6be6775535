"""The demo practice made once per test process and copied into each served server's data
folder: migrating a new database and creating the demo cost a second or more, a copy a
few milliseconds. The copy is made as if the demo had been created for that server: its
address replaces the template's wherever the data holds it, and it gets a host identity
of its own. Only for SQLite and the harness's standard settings (a test that sets more
makes its demo anew, as its settings might shape what the demo creates)."""

from __future__ import annotations

import atexit
import secrets
import shutil
import sqlite3
import tempfile
from collections.abc import Mapping
from pathlib import Path

from cheap_passwords import cheapen_demo_passwords
from harness import free_port

# The settings every harness server has; any other KOPPEL_* variable means no template.
STANDARD = frozenset(
    {"KOPPEL_DATA_DIR", "KOPPEL_HOST", "KOPPEL_PORT", "KOPPEL_PUBLIC_URL", "KOPPEL_ACTOR"}
)
_DATABASE = "koppel.sqlite3"

_template: tuple[Path, str] | None = None  # (data folder, its address)


def usable(env: Mapping[str, str], data_dir: Path) -> bool:
    """Whether a server with these settings can start from the template: standard
    settings, and a data folder with nothing in it yet."""
    names = {k for k in env if k.startswith("KOPPEL_")}
    fresh = not data_dir.exists() or not any(data_dir.iterdir())
    return names == STANDARD and fresh


def _made() -> tuple[Path, str]:
    """The template (made on first use): a data folder with the demo practice."""
    global _template
    if _template is None:
        from koppel.server.adapters.assembly import create_services
        from koppel.server.config import ServerSettings
        from koppel.server.demo import create_demo

        folder = Path(tempfile.mkdtemp(prefix="koppel-demo-template-"))
        atexit.register(shutil.rmtree, folder, True)
        data = folder / "data"
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        settings = ServerSettings(data_dir=data, host="127.0.0.1", port=port, public_url=url)
        svc = create_services(settings)
        try:
            create_demo(svc)
        finally:
            svc.database.dispose()
        cheapen_demo_passwords(data / _DATABASE)
        _template = (data, url)
    return _template


def copy_demo(data_dir: Path, public_url: str) -> None:
    """Fill ``data_dir`` with the demo practice as created for ``public_url``."""
    template, template_url = _made()
    shutil.copytree(template, data_dir, dirs_exist_ok=True)
    with sqlite3.connect(data_dir / _DATABASE) as db:
        _replace_text(db, template_url, public_url)
        db.execute(
            "UPDATE host_settings SET value = ? WHERE name = 'host_id'", (secrets.token_hex(16),)
        )
    db.close()


def _replace_text(db: sqlite3.Connection, old: str, new: str) -> None:
    """``old`` replaced by ``new`` in every text column of every table."""
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        for column in db.execute(f'PRAGMA table_info("{table}")').fetchall():
            name, kind = column[1], str(column[2]).upper()
            if any(word in kind for word in ("CHAR", "TEXT", "CLOB", "JSON")):
                db.execute(
                    f'UPDATE "{table}" SET "{name}" = replace("{name}", ?, ?) '
                    f'WHERE "{name}" LIKE ?',
                    (old, new, f"%{old}%"),
                )
