"""Issue 9, item 3: a caller without a valid token learns nothing about which environment
codes exist, nor their names. Every token-authenticated route and ``/status`` answer an
unknown environment exactly as they answer a bad token; names, updates and logins go only
to the holder of a valid token; ``/status`` takes a bounded number of codes."""

from __future__ import annotations

import re
from typing import Any

import httpx

from app_client import UPDATE, InProcess, bearer
from koppel.protocol.api import MAX_STATUS_QUERIES
from koppel.server.demo import CLIENTS, FIRM

EXISTING = tuple(code for code, _ in (FIRM, *CLIENTS))
NAMES = tuple(name for _, name in (FIRM, *CLIENTS))
MADE_UP = ("Z99999", "C20009", "F10002", "GEHEIM")
CODES = EXISTING + MADE_UP
JUNK_TOKENS = ("junk", "kplt_" + "0" * 18 + "_" + "x" * 43)


def _blank(value: Any, code: str) -> Any:
    """``value`` with the asked code blanked out: what must not differ between codes."""
    if isinstance(value, dict):
        return {k: _blank(v, code) for k, v in value.items()}
    if isinstance(value, list):
        return [_blank(v, code) for v in value]
    if isinstance(value, str):
        return re.sub(re.escape(code), "{env}", value, flags=re.IGNORECASE)
    return value


def _token_routes(demo_app: InProcess) -> list[tuple[str, str]]:
    """Every operation of the document that takes a bearer token and names an environment."""
    document = demo_app.app.openapi()
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            schemes = {name for s in operation.get("security", []) for name in s}
            if "{env}" in path and "HTTPBearer" in schemes:
                found.append((method.upper(), path))
    assert len(found) >= 15, found  # the dossier, files, uploads and linking routes
    return found


def _fill(path: str, env: str) -> str:
    return re.sub(r"\{[a-z_]+_id\}", "1", path).replace("{env}", env)


def _call(client: Any, method: str, url: str, token: str | None) -> httpx.Response:
    headers = {**(bearer(token) if token else UPDATE), "Tus-Resumable": "1.0.0"}
    return client.request(method, url, headers=headers)


def test_every_token_route_answers_an_unknown_environment_like_a_bad_token(
    demo_app: InProcess,
) -> None:
    client = demo_app.client()
    for method, path in _token_routes(demo_app):
        for token in (*JUNK_TOKENS, None):
            answers = [_call(client, method, _fill(path, code), token) for code in CODES]
            shapes = [
                (a.status_code, _blank(a.json(), code) if method != "HEAD" else None)
                for a, code in zip(answers, CODES, strict=True)
            ]
            # One answer, whichever code was asked: existing or not.
            assert all(s == shapes[0] for s in shapes), (method, path, token, shapes)
            status, body = shapes[0]
            assert status == 401, (method, path, status, body)
            if body is not None:
                expected = "token_invalid" if token else "token_missing"
                assert body["code"] == expected, (method, path, body)


def test_the_uniform_answer_says_what_to_do(demo_app: InProcess) -> None:
    answer = demo_app.client().get("/api/v1/environments/Z99999/me", headers=bearer("junk"))
    assert answer.status_code == 401
    body = answer.json()
    assert body["code"] == "token_invalid" and body["environment"] == "Z99999"
    assert "koppel link" in body["message"] and "koppel unlink Z99999" in body["message"]
    assert answer.headers["WWW-Authenticate"] == "Bearer"


def test_status_tells_a_stranger_nothing(demo_app: InProcess) -> None:
    client = demo_app.client()
    for token in JUNK_TOKENS:
        codes = EXISTING + MADE_UP
        answer = client.post(
            "/api/v1/status",
            headers=UPDATE,
            json={"environments": [{"environment": c, "token": token} for c in codes]},
        )
        assert answer.status_code == 200, answer.text
        statuses = answer.json()["statuses"]
        blanked = {repr(_blank(s, c)) for s, c in zip(statuses, codes, strict=True)}
        assert len(blanked) == 1, blanked
        status = statuses[0]
        assert status["state"] == "token_invalid"
        assert status["name"] is None and status["update"] is None and status["login"] is None
        assert not [name for name in NAMES if name in answer.text]


def test_names_go_only_to_the_holder_of_a_valid_token(demo_app: InProcess) -> None:
    client = demo_app.client()
    token = demo_app.token("C20001", "anna")
    answer = client.post(
        "/api/v1/status",
        headers=UPDATE,
        json={
            "environments": [
                {"environment": "C20001", "token": token},
                {"environment": "C20002", "token": token},  # exists, not this token's
                {"environment": "Z99999", "token": token},  # does not exist
            ]
        },
    )
    mine, other, unknown = answer.json()["statuses"]
    assert mine["state"] == "ok" and mine["name"] and mine["login"] == "anna"
    # The holder of C20001's token learns nothing about C20002, nor whether Z99999 exists.
    assert other["state"] == unknown["state"] == "token_wrong_environment"
    assert _blank(other, "C20002") == _blank(unknown, "Z99999")
    assert other["name"] is None and other["update"] is None and other["login"] is None
    for code in ("C20002", "Z99999"):
        refused = client.get(f"/api/v1/environments/{code}/me", headers=bearer(token))
        assert refused.status_code == 403 and refused.json()["code"] == "token_wrong_environment"
        assert "C20001" in refused.json()["message"]


def test_a_revoked_token_keeps_its_own_answer(demo_app: InProcess) -> None:
    client = demo_app.client()
    token = demo_app.token("C20001", "anna")
    assert client.delete("/api/v1/environments/C20001/link", headers=bearer(token)).status_code
    refused = client.get("/api/v1/environments/C20001/me", headers=bearer(token))
    assert refused.status_code == 401 and refused.json()["code"] == "token_revoked"
    status = client.post(
        "/api/v1/status",
        headers=UPDATE,
        json={"environments": [{"environment": "C20001", "token": token}]},
    ).json()["statuses"][0]
    assert status["state"] == "token_revoked" and "unlinked" in status["message"]


def test_status_takes_a_bounded_number_of_codes(demo_app: InProcess) -> None:
    client = demo_app.client()
    assert MAX_STATUS_QUERIES >= 1000

    def ask(count: int) -> httpx.Response:
        queries = [{"environment": f"Z{n:05d}", "token": "junk"} for n in range(count)]
        return client.post("/api/v1/status", headers=UPDATE, json={"environments": queries})

    assert ask(MAX_STATUS_QUERIES).status_code == 200
    refused = ask(MAX_STATUS_QUERIES + 1)
    assert refused.status_code == 400 and refused.json()["code"] == "validation_error"
    assert ask(3001).status_code == 400


def test_event_sessions_and_pending_files_answer_strangers_alike(demo_app: InProcess) -> None:
    client = demo_app.client()
    codes = EXISTING + MADE_UP
    body = {
        "environments": [{"environment": c, "token": "junk"} for c in codes],
        "workstation_id": "ws-stranger",
    }
    pending = client.post("/api/v1/files/pending", headers=UPDATE, json=body)
    entries = pending.json()["environments"]
    assert len({repr(_blank(e, c)) for e, c in zip(entries, codes, strict=True)}) == 1
    session = client.post("/api/v1/event-sessions", headers=UPDATE, json=body)
    assert session.status_code == 401 and session.json()["code"] == "token_invalid"
    assert not [name for name in NAMES if name in pending.text + session.text]
