"""`koppel watch` end to end: a real server and the real agent in a subprocess, stopped by
the test. Files pushed and generated arrive in the downloads folder once each, also
those that became ready while the watcher was away; one event session and connection per
server for all its environments; revocations, conversions and blocked connectors shown.

No desktop session bus runs here (DBUS_SESSION_BUS_ADDRESS is removed), so notifications
are the documented "notification: ..." log lines."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from harness import Server, Workstation
from koppel_process import KoppelProcess, desktopless

Ws = Callable[..., Workstation]


class Watcher(KoppelProcess):
    """`koppel watch` running in the background, its output in a log file."""

    args = ("watch",)

    def start(self) -> Watcher:
        super().start()
        return self


@pytest.fixture
def watchers() -> Iterator[list[Watcher]]:
    made: list[Watcher] = []
    yield made
    for watcher in made:
        watcher.stop()


def received(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


# The watcher's line for a file placed under its final name (its temporary
# ``.koppel-part`` is gone by then): the signal that a download is complete.
_PLACED = re.compile(r": received .+ -> ")


def wait_files(
    watcher: Watcher,
    root: Path,
    count: int,
    timeout: float = 30,
    placed: re.Pattern[str] = _PLACED,
) -> list[Path]:
    """The files under ``root`` once the watcher (over all its starts) has placed
    ``count``: a download still being written is not counted as arrived. ``placed``
    matches the log line of a placed file (in the watcher's language)."""
    deadline = time.monotonic() + timeout
    while len(placed.findall(watcher.text())) < count:
        assert watcher.process is None or watcher.process.poll() is None, watcher.text()
        assert time.monotonic() < deadline, (received(root), watcher.text())
        time.sleep(0.1)
    return received(root)


def publish(srv: Server, env: str, login: str, path: Path) -> int:
    return int(srv.ok("files", "publish", env, login, str(path), "--json").json()["id"])


def db_rows(srv: Server, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(srv.data_dir / "koppel.sqlite3") as connection:
        return list(connection.execute(query, args))


def wait_ready(ws: Workstation, env: str, file_id: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        files = {f["id"]: f for f in ws.ok("files", "--env", env, "--json").json()}
        if files[file_id]["state"] == "ready":
            return
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_watch_receives_everything_once_also_what_came_while_away(
    demo_server: Server, workstation: Ws, watchers: list[Watcher], tmp_path: Path
) -> None:
    srv = demo_server
    root = tmp_path / "downloads"
    ws = desktopless(workstation("laptop", KOPPEL_DOWNLOADS_DIR=str(root)))
    ws.ok("link", str(ws.save_settings(srv, "F10001", "anna")))
    ws.ok("link", str(ws.save_settings(srv, "F10001", "anna", bundle=True)))
    (tmp_path / "a.pdf").write_bytes(b"%PDF first")
    (tmp_path / "b.txt").write_text("second")

    watcher = Watcher(ws, tmp_path / "watch.log").start()
    watchers.append(watcher)
    watcher.wait_for("following 4 environments on one connection")
    publish(srv, "F10001", "anna", tmp_path / "a.pdf")
    publish(srv, "C20001", "anna", tmp_path / "b.txt")
    publish(srv, "C20001", "bram", tmp_path / "b.txt")  # bram's: never arrives here
    request = ws.ok("analyses", "request", "--env", "C20002", "--json").json()
    found = wait_files(watcher, root, 3)
    names = {p.relative_to(root).as_posix() for p in found}
    assert "Dekker & Co Accountants/a.pdf" in names
    assert any(n.endswith("/b.txt") for n in names)
    assert any(n.endswith(".xlsx") for n in names)
    assert (root / "Dekker & Co Accountants" / "a.pdf").read_bytes() == b"%PDF first"
    watcher.wait_for("notification: Koppel: Dekker & Co Accountants: a.pdf arrived")
    assert request["file_id"]
    watcher.stop()

    # While the watcher is away: a file of the same name, another, and an analysis.
    publish(srv, "F10001", "anna", tmp_path / "a.pdf")
    publish(srv, "C20003", "anna", tmp_path / "b.txt")
    away = ws.ok("analyses", "request", "--env", "F10001", "--json").json()["file_id"]
    wait_ready(ws, "F10001", away)

    watcher.start()
    found = wait_files(watcher, root, 6)
    time.sleep(2)  # anything delivered twice would show up now
    watcher.stop()
    found = received(root)
    assert len(found) == 6, found
    names = {p.relative_to(root).as_posix() for p in found}
    assert "Dekker & Co Accountants/a (2).pdf" in names
    assert sum(n.endswith(".xlsx") for n in names) == 2
    assert not list(root.rglob("*.koppel-part")) and not list(root.rglob(".*"))
    # Every file is marked delivered to this workstation (bram's is not anna's).
    assert db_rows(srv, "select count(*) from output_deliveries") == [(6,)]
    # One event session per start of the watcher, for all four environments.
    assert db_rows(srv, "select count(*) from event_sessions") == [(2,)]

    # A third start finds nothing new: nothing twice.
    watcher.start()
    watcher.wait_for("following 4 environments")
    time.sleep(1.5)
    watcher.stop()
    assert len(received(root)) == 6


def _practice(srv: Server, tmp_path: Path, count: int) -> list[str]:
    codes = [f"C2{n:04d}" for n in range(100, 100 + count)]
    csv = "code,name,kind,firm\n" + "".join(f"{c},Client {c},client,F10001\n" for c in codes)
    (tmp_path / "more.csv").write_text(csv)
    srv.ok("env", "import", str(tmp_path / "more.csv"))
    srv.ok("setup", "client", *codes, "--firm", "F10001", "--user", "anna")
    return codes


def _converted_event(srv: Server, code: str) -> None:
    """Record what `Admin.convert` records (see the test below) for an environment on the
    newest update: an agent of the newest update cannot otherwise see a conversion."""
    env_id = db_rows(srv, "select id from environments where code = ?", code)[0][0]
    payload = {"environment": code, "from_update": "2026.2", "to_update": "2027.1"}
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    with sqlite3.connect(srv.data_dir / "koppel.sqlite3") as connection:
        connection.execute(
            "insert into events (environment_id, membership_id, kind, payload, created_at) "
            "values (?, NULL, 'environment_converted', ?, ?)",
            (env_id, json.dumps(payload), now),
        )


def test_one_connection_for_twenty_environments_and_admin_events(
    demo_server: Server, workstation: Ws, watchers: list[Watcher], tmp_path: Path
) -> None:
    srv = demo_server
    root = tmp_path / "downloads"
    extra = _practice(srv, tmp_path, 16)
    ws = desktopless(workstation("laptop", KOPPEL_DOWNLOADS_DIR=str(root)))
    ws.ok("link", str(ws.save_settings(srv, "F10001", "anna")))
    ws.ok("link", str(ws.save_settings(srv, "F10001", "anna", bundle=True)))
    assert len(ws.ok("envs", "--json").json()) == 20

    watcher = Watcher(ws, tmp_path / "watch.log").start()
    watchers.append(watcher)
    watcher.wait_for("following 20 environments on one connection")
    assert db_rows(srv, "select count(*) from event_sessions") == [(1,)]
    scope = json.loads(db_rows(srv, "select scope from event_sessions")[0][0])
    assert len(scope["environments"]) == 20

    srv.ok("tokens", "revoke", "C20001", "--user", "anna")
    watcher.wait_for("access to C20001 from this workstation was revoked")
    watcher.wait_for("No longer following C20001")
    srv.ok("connector", "block", "C20002")
    watcher.wait_for("communication-center of C20002 was blocked")
    _converted_event(srv, "C20003")
    watcher.wait_for("C20003 was converted from update 2026.2 to 2027.1")

    # The revoked environment is no longer followed; the others still deliver.
    (tmp_path / "late.txt").write_text("late")
    publish(srv, "C20001", "anna", tmp_path / "late.txt")
    publish(srv, extra[-1], "anna", tmp_path / "late.txt")
    found = wait_files(watcher, root, 1)
    time.sleep(1.5)
    assert [p.relative_to(root).as_posix() for p in received(root)] == [
        f"Client {extra[-1]}/late.txt"
    ]
    watcher.stop()
    assert db_rows(srv, "select count(*) from event_sessions") == [(1,)]
    assert found

    # On the next start the refused environments are shown and left out.
    watcher.start()
    watcher.wait_for("following 18 environments on one connection")
    watcher.stop()
    assert "C20001: " in watcher.text() and "C20002: " in watcher.text()


def test_conversion_records_an_event_for_the_environment(demo_server: Server) -> None:
    srv = demo_server
    srv.ok("env", "create", "C20050", "--name", "Oud", "--kind", "client", "--update", "2026.1")
    srv.ok("env", "convert", "C20050", "--to", "2026.2")
    rows = db_rows(
        srv,
        "select e.kind, e.membership_id, e.payload from events e "
        "join environments v on v.id = e.environment_id where v.code = 'C20050'",
    )
    assert len(rows) == 1 and rows[0][0] == "environment_converted" and rows[0][1] is None
    assert json.loads(rows[0][2])["to_update"] == "2026.2"


def _sse(url: str, last_id: int, wanted: int) -> tuple[list[dict[str, Any]], list[str]]:
    """Read ``wanted`` events from an event stream (and every raw line read)."""
    import httpx

    from koppel.agent.api._sse import SseParser, events

    headers = {"Last-Event-ID": str(last_id), "Accept": "text/event-stream"}
    lines: list[str] = []
    found: list[dict[str, Any]] = []

    def recorded(source: Iterator[str]) -> Iterator[str]:
        for line in source:
            lines.append(line)
            yield line

    with httpx.stream("GET", url, headers=headers, timeout=20) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for event in events(recorded(response.iter_lines()), SseParser()):
            data = json.loads(event.data)
            assert event.event == data["kind"] and event.last_event_id == str(data["id"])
            found.append(data)
            if len(found) == wanted:
                break
    return found, lines


def test_event_stream_protocol(demo_server: Server, workstation: Ws, tmp_path: Path) -> None:
    import httpx

    from dossier_support import link

    srv, ws = demo_server, workstation()
    tokens = {code: link(ws, srv, code, "anna") for code in ("F10001", "C20001")}
    workstation_id = json.loads((ws.home / ".local/share/koppel/state.json").read_text())[
        "workstation"
    ]["id"]
    api = f"{srv.url}/api/v1"
    update = {"Koppel-Update": "2026.2"}
    queries = [{"environment": c, "token": t} for c, t in tokens.items()]
    queries.append({"environment": "C20002", "token": "kplt_forged"})
    opened = httpx.post(
        f"{api}/event-sessions",
        json={"environments": queries, "workstation_id": workstation_id},
        headers=update,
    )
    assert opened.status_code == 201, opened.text
    session = opened.json()
    assert session["environments"] == ["C20001", "F10001"]
    assert [(r["environment"], r["state"]) for r in session["refused"]] == [
        ("C20002", "token_invalid")
    ]
    start = session["last_event_id"]
    other = httpx.post(
        f"{api}/event-sessions",
        json={"environments": queries[:2], "workstation_id": "another-workstation"},
        headers=update,
    )
    assert other.status_code == 401 and other.json()["code"] == "token_invalid"
    assert httpx.get(f"{api}/events/unknown-session", headers=update).status_code == 404

    (tmp_path / "one.txt").write_text("1")
    first = publish(srv, "F10001", "anna", tmp_path / "one.txt")
    stream_url = f"{api}/events/{session['session']}"
    found, lines = _sse(stream_url, start, 1)
    assert lines[0] == "retry: 3000"
    assert found[0]["kind"] == "file_ready" and found[0]["payload"]["file_id"] == first
    assert found[0]["environment"] == "F10001"

    # Resumable: everything after Last-Event-ID is replayed, in order.
    second = publish(srv, "C20001", "anna", tmp_path / "one.txt")
    publish(srv, "C20001", "bram", tmp_path / "one.txt")  # not anna's: never on her stream
    found, _ = _sse(stream_url, start, 2)
    assert [(e["environment"], e["payload"]["file_id"]) for e in found] == [
        ("F10001", first),
        ("C20001", second),
    ]
    # A revoked token's environment gets its token_revoked event, then nothing more (not
    # even a replay of what came before).
    srv.ok("tokens", "revoke", "C20001", "--user", "anna")
    publish(srv, "C20001", "anna", tmp_path / "one.txt")
    third = publish(srv, "F10001", "anna", tmp_path / "one.txt")
    found, _ = _sse(stream_url, start, 3)
    assert [(e["environment"], e["kind"]) for e in found] == [
        ("F10001", "file_ready"),
        ("C20001", "token_revoked"),
        ("F10001", "file_ready"),
    ]
    assert found[1]["payload"]["workstation_id"] == workstation_id
    assert found[2]["payload"]["file_id"] == third
    resumed, _ = _sse(stream_url, found[1]["id"], 1)
    assert resumed == found[2:]


def test_links_made_and_removed_while_watching_are_followed(
    demo_server: Server, workstation: Ws, watchers: list[Watcher], tmp_path: Path
) -> None:
    srv = demo_server
    root = tmp_path / "downloads"
    ws = desktopless(workstation("laptop", KOPPEL_DOWNLOADS_DIR=str(root)))
    ws.ok("link", str(ws.save_settings(srv, "C20001", "anna")))
    (tmp_path / "new.pdf").write_bytes(b"%PDF for the new link")

    watcher = Watcher(ws, tmp_path / "watch.log").start()
    watchers.append(watcher)
    watcher.wait_for("following 1 environment on one connection")
    # Linked while watching: followed without a restart, still on one connection.
    ws.ok("link", str(ws.save_settings(srv, "C20002", "anna")))
    watcher.wait_for("now following 2 environments")
    watcher.wait_for("following 2 environments on one connection")
    publish(srv, "C20002", "anna", tmp_path / "new.pdf")
    found = wait_files(watcher, root, 1)
    assert [p.relative_to(root).as_posix() for p in found] == ["Garage Visser/new.pdf"]

    # Unlinked while watching: no longer followed; the rest still is.
    ws.ok("unlink", "C20001")
    watcher.wait_for("now following 1 environment")
    publish(srv, "C20002", "anna", tmp_path / "new.pdf")
    assert len(wait_files(watcher, root, 2)) == 2
    assert watcher.text().count("following 1 environment on one connection") == 2
