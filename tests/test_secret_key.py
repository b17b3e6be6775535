"""Secrets at rest: no credential or key in the database in plain text (TOTP secrets and
the settings-signing key encrypted with a key kept outside it, CSRF tokens derived,
event sessions hashed), rotation of that key, a clear refusal without it, the encryption
of an older database's plain values at start."""

from __future__ import annotations

import base64
import os
import re
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, text

from app_client import UPDATE, AppClient, InProcess
from harness import BIN, Result, make_server, run
from test_portal_totp import rfc6238

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_TOTP_SECRET = re.compile(r'<code id="totp-secret">([A-Z2-7 ]+)</code>')


class Browser:
    """A browser on the in-process portal of F10001: cookies and the last CSRF token."""

    def __init__(self, client: AppClient) -> None:
        self.client = client
        self.csrf = ""

    def get(self, tail: str) -> httpx.Response:
        response = self.client.get(f"/portal/F10001/{tail}", follow_redirects=True)
        if found := _CSRF.search(response.text):
            self.csrf = found.group(1)
        return response

    def post(self, tail: str, form: dict[str, str] | None = None) -> httpx.Response:
        data = {"csrf_token": self.csrf, **(form or {})}
        response = self.client.post(f"/portal/F10001/{tail}", data=data, follow_redirects=True)
        if found := _CSRF.search(response.text):
            self.csrf = found.group(1)
        return response

    def sign_in(self, login: str = "anna") -> httpx.Response:
        self.get("sign-in")
        return self.post("sign-in", {"login": login, "password": "koppel-demo"})


def code_at(app: InProcess, secret: str) -> str:
    """The authenticator's code at the app's clock."""
    return rfc6238(secret, app.clock.now.timestamp())


def enrol_totp(app: InProcess, browser: Browser) -> str:
    """Turn two-step verification on for the signed-in user; the TOTP secret."""
    shown = browser.post("security/enrol")
    found = _TOTP_SECRET.search(shown.text)
    assert found, shown.text
    secret = found.group(1).replace(" ", "")
    done = browser.post("security/confirm", {"otp": code_at(app, secret)})
    assert done.status_code == 200 and "shown only this once" in done.text, done.text
    return secret


def stored(database: Path) -> tuple[list[Any], bytes]:
    """Every text and binary value in every table, and the raw bytes of the database
    files (main file and write-ahead log), read directly from disk."""
    values: list[Any] = []
    with sqlite3.connect(database) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in db.execute(f'SELECT * FROM "{table}"'):
                values += [v for v in row if isinstance(v, str | bytes)]
    raw = b"".join(
        p.read_bytes() for p in (database, database.with_name(database.name + "-wal"))
        if p.exists()
    )  # fmt: skip
    return values, raw


def assert_absent(secret: str | bytes, values: list[Any], raw: bytes) -> None:
    """Neither a stored value nor the files contain ``secret`` (in common encodings)."""
    forms: list[bytes] = []
    if isinstance(secret, str):
        forms.append(secret.encode())
    else:
        forms += [
            secret,
            secret.hex().encode(),
            base64.b64encode(secret),
            base64.urlsafe_b64encode(secret).rstrip(b"="),
        ]
    for form in forms:
        assert form not in raw
        for value in values:
            assert form not in (value if isinstance(value, bytes) else value.encode())


def admin(data_dir: Path, *args: str, **env: str) -> Result:
    """``koppel-admin`` on a data folder (of an in-process app or a stopped server)."""
    variables = {k: v for k, v in os.environ.items() if not k.startswith("KOPPEL_")}
    variables.update(KOPPEL_DATA_DIR=str(data_dir), KOPPEL_ACTOR="test-admin", **env)
    return run([str(BIN / "koppel-admin"), *args], variables, data_dir.parent)


def database_of(app: InProcess) -> Path:
    return app.svc.settings.data_dir / "koppel.sqlite3"


def sealed_key_ids(database: Path) -> set[str]:
    """The key ids named by the encrypted values in the database."""
    with sqlite3.connect(database) as db:
        values = [r[0] for r in db.execute("SELECT secret FROM second_factors")]
        values += [bytes(r[0]).decode() for r in db.execute("SELECT value FROM server_secrets")]
    assert values and all(v.startswith("kpenc1:") for v in values), values
    return {v.split(":")[1] for v in values}


# --- nothing in the clear


def test_the_database_holds_no_secret_in_plain_text(demo_app: InProcess) -> None:
    browser = Browser(demo_app.client())
    assert "Welcome" in browser.sign_in().text
    csrf = browser.csrf
    assert csrf
    totp_secret = enrol_totp(demo_app, browser)
    demo_app.settings_file("C20001")  # signs with the settings-signing key
    with demo_app.transaction() as uow:
        signing_key = uow.core.signing_key()
    token = demo_app.token("F10001", workstation="ws-events")
    opened = demo_app.client().post(
        "/api/v1/event-sessions",
        headers=UPDATE,
        json={"environments": [{"environment": "F10001", "token": token}],
              "workstation_id": "ws-events"},
    )  # fmt: skip
    assert opened.status_code == 201, opened.text
    session = opened.json()["session"]

    values, raw = stored(database_of(demo_app))
    for secret in (totp_secret, signing_key, csrf, session):
        assert_absent(secret, values, raw)

    # The session id is a credential: only the whole of it opens the stream.
    public, _, secret = session.partition("_")[2].partition("_")
    assert session.startswith("kpes_") and len(public) == 18 and len(secret) >= 40
    forged = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    for wrong in (f"kpes_{public}_{forged}", f"kpes_{public}", public, session + "x"):
        refused = demo_app.client().get(f"/api/v1/events/{wrong}")
        assert refused.status_code == 404, wrong


def test_the_csrf_token_belongs_to_its_session(demo_app: InProcess) -> None:
    anna, other = Browser(demo_app.client()), Browser(demo_app.client())
    anna.sign_in()
    other.sign_in("bram")
    assert anna.csrf and other.csrf and anna.csrf != other.csrf
    # Another session's token does not pass; the session's own does, also after a reload.
    taken = anna.post("security/sign-out-others", {"csrf_token": other.csrf})
    assert taken.status_code == 403
    anna.get("security")
    assert anna.post("security/sign-out-others").status_code == 200


# --- rotation


def test_rotation_keeps_second_factors_and_settings_files(demo_app: InProcess) -> None:
    browser = Browser(demo_app.client())
    browser.sign_in()
    totp_secret = enrol_totp(demo_app, browser)
    settings = demo_app.settings_file("C20001")
    data_dir = demo_app.svc.settings.data_dir
    before = sealed_key_ids(database_of(demo_app))
    assert len(before) == 1

    rotated = admin(data_dir, "secret-key", "rotate")
    assert rotated.returncode == 0, rotated.output
    after = sealed_key_ids(database_of(demo_app))
    assert len(after) == 1 and after != before
    (new,) = after
    assert new in rotated.output
    keys = [line for line in (data_dir / "secret.key").read_text().splitlines()
            if line and not line.startswith("#")]  # fmt: skip
    assert len(keys) == 2  # the new key first; the old one still decrypts older backups
    assert stat.S_IMODE((data_dir / "secret.key").stat().st_mode) == 0o600

    # The running app reads the rotated key file: the second factor enrolled before
    # still verifies, and the settings file signed before still links.
    browser.post("sign-out")
    assert "/second-factor" in str(browser.sign_in().url)
    demo_app.clock.advance(seconds=30)
    done = browser.post("second-factor", {"otp": code_at(demo_app, totp_secret)})
    assert "Welcome" in done.text, done.text
    linked = demo_app.client().post(
        "/api/v1/links",
        headers=UPDATE,
        json={"workstation": {"id": "ws-rotated", "name": "ws-rotated"}, "settings": [settings]},
    )
    assert linked.status_code == 200, linked.text

    audit = admin(data_dir, "audit", "--action", "secret_key", "--json")
    entries = audit.json()["entries"]
    assert [e["action"] for e in entries] == ["secret_key.rotate"]
    assert entries[0]["actor"] == "cli:test-admin"
    status = admin(data_dir, "secret-key", "status")
    assert status.returncode == 0 and new in status.output and str(data_dir) in status.output


def test_keys_from_the_variable_rotate_once_a_new_key_is_put_first(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first, second = (admin(tmp_path, "secret-key", "generate").stdout.strip() for _ in range(2))
    assert first != second and first.startswith("kpsk_")
    assert admin(data_dir, "db", "init", KOPPEL_SECRET_KEY=first).returncode == 0
    made = admin(data_dir, "accounts", "create", "anna", "--name", "Anna", "--password",
                 "koppel-demo", KOPPEL_SECRET_KEY=first)  # fmt: skip
    assert made.returncode == 0, made.output
    assert not (data_dir / "secret.key").exists()  # the variable is the key
    (old,) = sealed_key_ids(data_dir / "koppel.sqlite3")

    same = admin(data_dir, "secret-key", "rotate", KOPPEL_SECRET_KEY=first)
    assert same.returncode == 5 and "KOPPEL_SECRET_KEY" in same.output, same.output
    both = admin(data_dir, "secret-key", "rotate", KOPPEL_SECRET_KEY=f"{second},{first}")
    assert both.returncode == 0, both.output
    (new,) = sealed_key_ids(data_dir / "koppel.sqlite3")
    assert new != old

    assert admin(data_dir, "accounts", "list", KOPPEL_SECRET_KEY=second).returncode == 0
    stale = admin(data_dir, "accounts", "list", KOPPEL_SECRET_KEY=first)
    assert stale.returncode == 5 and new in stale.output and "KOPPEL_SECRET_KEY" in stale.output


# --- refusing to start without the key


def test_the_server_refuses_to_start_without_its_key(tmp_path: Path) -> None:
    srv = make_server(tmp_path, process=True)
    srv.start()
    srv.stop()
    key = srv.data_dir / "secret.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    kept = key.rename(tmp_path / "backup.key")

    with pytest.raises(RuntimeError) as missing:
        srv.start()
    message = str(missing.value)
    assert str(key) in message and "KOPPEL_SECRET_KEY" in message and "Traceback" not in message
    assert not key.exists()  # never silently made anew

    srv.env["KOPPEL_SECRET_KEY"] = admin(tmp_path, "secret-key", "generate").stdout.strip()
    with pytest.raises(RuntimeError) as wrong:
        srv.start()
    assert "KOPPEL_SECRET_KEY" in str(wrong.value) and "Traceback" not in str(wrong.value)

    del srv.env["KOPPEL_SECRET_KEY"]
    kept.rename(key)
    srv.start()
    srv.stop()


def test_a_damaged_key_file_is_refused_not_replaced(tmp_path: Path) -> None:
    from koppel.server.adapters.assembly import create_services
    from koppel.server.adapters.secret_key import SecretKeyError
    from koppel.server.config import ServerSettings

    settings = ServerSettings(data_dir=tmp_path / "data")
    create_services(settings).database.dispose()
    key_file = settings.data_dir / "secret.key"
    for damaged in ("", "# only a comment\n", "kpsk_tooshort\n", "not a key at all\n"):
        key_file.write_text(damaged)
        with pytest.raises(SecretKeyError) as refused:
            create_services(settings)
        assert str(key_file) in str(refused.value)
        assert key_file.read_text() == damaged


# --- an older database


@contextmanager
def older_database(data_dir: Path) -> Iterator[Any]:
    """A database at revision 0005 (before secrets were encrypted), to fill in."""
    from koppel.server.adapters.db import migrate
    from koppel.server.adapters.db.database import make_engine

    data_dir.mkdir(parents=True)
    engine = make_engine(f"sqlite:///{data_dir / 'koppel.sqlite3'}")
    migrate.upgrade(engine, "0005")
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()


def test_plain_secrets_of_an_older_database_are_encrypted_at_start(tmp_path: Path) -> None:
    from koppel.server.adapters.assembly import create_services
    from koppel.server.adapters.db.tables import core as t
    from koppel.server.adapters.db.tables import portal as tw
    from koppel.server.config import ServerSettings

    data_dir = tmp_path / "data"
    database = data_dir / "koppel.sqlite3"
    totp_secret, signing_key = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", os.urandom(32)
    with older_database(data_dir) as c:
        account = c.execute(
            text("INSERT INTO accounts (login, display_name, password_hash, disabled, "
                 "created_at) VALUES ('anna', 'Anna', 'x', 0, '2026-01-01') RETURNING id")
        ).scalar_one()  # fmt: skip
        portal = c.execute(
            text("INSERT INTO environments (code, name, kind, \"update\", has_portal, "
                 "created_at) VALUES ('F1', 'Firm', 'firm', '2026.2', 1, '2026-01-01') "
                 "RETURNING id")
        ).scalar_one()  # fmt: skip
        c.execute(insert(tw.second_factors).values(
            account_id=account, secret=totp_secret, last_step=0))  # fmt: skip
        c.execute(insert(t.server_secrets).values(name="settings-signing", value=signing_key))
        c.execute(
            text("INSERT INTO event_sessions (public_id, workstation_id, scope, created_at, "
                 "expires_at) VALUES ('plain-session-id', 'ws', '{}', '2026-01-01', "
                 "'2099-01-01')")
        )  # fmt: skip
        c.execute(
            text("INSERT INTO web_sessions (public_id, secret_hash, account_id, "
                 "portal_environment_id, csrf_token, second_factor_done, created_at, "
                 "last_seen_at, expires_at) VALUES ('p1', 'h1', :a, :p, 'plain-csrf-token', "
                 "1, '2026-01-01', '2026-01-01', '2099-01-01')"),
            {"a": account, "p": portal},
        )  # fmt: skip

    def start() -> None:
        svc = create_services(ServerSettings(data_dir=data_dir))
        try:
            with svc.transaction() as uow:
                assert uow.core.signing_key() == signing_key
                factor = uow.portal.second_factor(account)
                assert factor is not None and factor.secret == totp_secret
                assert uow.portal.session("p1") is not None  # still signed in
        finally:
            svc.database.dispose()

    start()
    values, _raw = stored(database)
    for secret in (totp_secret, signing_key, "plain-session-id", "plain-csrf-token"):
        for value in values:
            found = value if isinstance(value, bytes) else value.encode()
            assert (secret.encode() if isinstance(secret, str) else secret) not in found
    assert len(sealed_key_ids(database)) == 1
    start()  # idempotent: nothing plain is left, nothing changes
    assert stored(database)[0] == values
