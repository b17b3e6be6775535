"""Watching a server (issue 14): request ids, /healthz and /readyz, Prometheus metrics
(the app in process), and log lines with timestamps and request ids, as text or JSON
(a real ``koppel-server`` process, whose stderr is the point)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from app_client import UPDATE, InProcess, bearer, make_in_process
from dossier_support import Api, link, open_event_session
from harness import Server, Workstation, make_server

_ID = re.compile(r"^[0-9a-f]{16}$")


def _metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of a Prometheus text exposition (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        sample, value = line.rsplit(" ", 1)
        found_name, _, rest = sample.partition("{")
        found = ",".join(sorted(rest.rstrip("}").split(","))) if rest else ""
        if found_name == name and found == wanted:
            return float(value)
    return 0.0


def test_every_answer_names_its_request(demo_app: InProcess) -> None:
    client = demo_app.client()
    made = client.get("/healthz")
    assert made.json() == {"status": "ok"}
    assert _ID.match(made.headers["X-Request-Id"])
    assert client.get("/healthz").headers["X-Request-Id"] != made.headers["X-Request-Id"]
    # A proxy's id is kept, so that both logs name the same request; junk is not.
    kept = client.get("/api/v1/info", headers={"X-Request-Id": "nginx-4f1c.9"})
    assert kept.headers["X-Request-Id"] == "nginx-4f1c.9"
    junk = client.get("/healthz", headers={"X-Request-Id": "a b;" + "x" * 80})
    assert _ID.match(junk.headers["X-Request-Id"])
    refused = client.get("/api/v1/environments/C20001/items", headers=bearer("kplt_nope"))
    assert refused.status_code == 401 and _ID.match(refused.headers["X-Request-Id"])


def test_ready_when_the_database_and_the_blob_store_are(demo_app: InProcess) -> None:
    client = demo_app.client()
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {"database": "ok", "schema": "ok", "blobs": "ok"},
    }
    blobs = demo_app.data_dir / "blobs" / "blobs"
    assert blobs.is_dir()
    moved = blobs.with_name("moved-away")
    blobs.rename(moved)
    try:
        down = client.get("/readyz")
        assert down.status_code == 503 and down.json()["status"] == "not ready"
        checks = down.json()["checks"]
        assert checks["database"] == "ok" and str(blobs) in checks["blobs"]
        assert client.get("/healthz").status_code == 200  # alive all the same
    finally:
        moved.rename(blobs)
    assert client.get("/readyz").status_code == 200


def test_metrics_count_requests_uploads_token_failures_and_jobs(demo_app: InProcess) -> None:
    client = demo_app.client()
    anna = Api(demo_app, "C20001", demo_app.token("C20001"))
    anna.get("items")
    anna.get("items/1")  # not found: counted by its route, not its path
    anna.upload("scan.pdf", b"x" * 12_345)
    client.get("/api/v1/environments/C20001/items", headers=bearer("kplt_nope"))
    answer = anna.http.post("analyses", json={"kind": "dossier-overview"})
    assert answer.status_code == 202, answer.text
    demo_app.clock.advance(seconds=90)

    scraped = client.get("/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    text = scraped.text
    items = "/api/v1/environments/{env}/items"
    assert _metric(text, "koppel_http_requests_total", method="GET", route=items, status="200")
    assert _metric(
        text, "koppel_http_requests_total", method="GET", route=items + "/{item_id}", status="404"
    )
    assert "/items/1" not in text  # no label per path
    assert _metric(text, "koppel_upload_bytes_total") == 12_345
    assert _metric(text, "koppel_token_failures_total", code="token_invalid") == 1
    assert _metric(text, "koppel_jobs_queued") == 1
    assert _metric(text, "koppel_jobs_oldest_queued_seconds") == pytest.approx(90, abs=5)
    assert _metric(text, "koppel_event_streams_active") == 0
    timed = _metric(text, "koppel_http_request_duration_seconds_count", method="GET", route=items)
    assert timed == sum(
        _metric(text, "koppel_http_requests_total", method="GET", route=items, status=status)
        for status in ("200", "401")
    )
    demo_app.run_jobs()
    assert _metric(client.get("/metrics").text, "koppel_jobs_queued") == 0


def test_metrics_can_be_turned_off(tmp_path: Path) -> None:
    made = make_in_process(tmp_path / "server", demo=False, metrics=False)
    try:
        off = made.client().get("/metrics")
        assert off.status_code == 404 and off.json()["code"] == "not_found"
    finally:
        made.close()


def test_an_open_event_stream_is_counted_while_it_lasts(
    demo_server: Server, workstation: Callable[..., Workstation]
) -> None:
    ws = workstation("anna-laptop")
    token = link(ws, demo_server, "F10001", "anna")
    session = open_event_session(demo_server.url, ws, "F10001", token)
    with httpx.Client(base_url=demo_server.url, timeout=10) as client:
        path = f"/api/v1/events/{session}"
        with client.stream("GET", path, headers=UPDATE) as stream:
            assert stream.status_code == 200
            lines = stream.iter_lines()
            assert next(lines).startswith("retry:")  # the stream is open
            during = client.get("/metrics").text
            assert _metric(during, "koppel_event_streams_active") == 1, during
        for _ in range(50):  # the server notices the closed stream at its next beat
            after = client.get("/metrics").text
            if _metric(after, "koppel_event_streams_active") == 0:
                break
            time.sleep(0.1)
        assert _metric(after, "koppel_event_streams_active") == 0


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_log_lines_carry_a_timestamp_and_the_request_id(tmp_path: Path, log_format: str) -> None:
    server = make_server(tmp_path, process=True)
    server.env["KOPPEL_LOG_FORMAT"] = log_format
    server.start("--log-level", "info")
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            client.get("/api/v1/info", headers={"X-Request-Id": "proxy-id-42"})
    finally:
        server.stop()
    lines = [line for line in server.log.read_text().splitlines() if line.strip()]
    stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
    if log_format == "json":
        entries = [json.loads(line) for line in lines]  # every line is one JSON object
        access = [e for e in entries if e["logger"] == "koppel.access"]
        assert all(stamp.match(e["time"]) for e in entries)
        info = next(e for e in access if e["path"] == "/api/v1/info")
        assert info["request_id"] == "proxy-id-42" and info["status"] == 200
        assert info["route"] == "/api/v1/info" and info["method"] == "GET"
        assert {e["logger"] for e in entries} >= {"uvicorn.error", "koppel.access"}
    else:
        info = next(line for line in lines if "/api/v1/info" in line)
        when, level, logger, request_id, _ = info.split(" ", 4)
        assert stamp.match(when) and level == "INFO" and logger == "koppel.access"
        assert request_id == "[proxy-id-42]" and '"GET /api/v1/info" 200' in info
        startup = next(line for line in lines if "Uvicorn running" in line)
        assert stamp.match(startup.split(" ", 1)[0])
