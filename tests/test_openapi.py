"""The agent API is described by the server's OpenAPI document, refusals included."""

from __future__ import annotations

import httpx

from harness import Server


def test_openapi_describes_every_agent_route(server: Server) -> None:
    spec = httpx.get(f"{server.url}/openapi.json").json()
    paths = spec["paths"]
    for path, method in [
        ("/api/v1/info", "get"),
        ("/api/v1/environments/{env}/settings", "get"),
        ("/api/v1/environments/{env}/settings-bundle", "get"),
        ("/api/v1/environments/{env}/installation", "get"),
        ("/api/v1/links", "post"),
        ("/api/v1/status", "post"),
        ("/api/v1/environments/{env}/me", "get"),
        ("/api/v1/environments/{env}/link", "delete"),
    ]:
        operation = paths[path][method]
        assert operation.get("description") or operation.get("summary")
        if path != "/api/v1/info":
            refusal = operation["responses"]["403"]["content"]["application/json"]["schema"]
            assert refusal["$ref"].endswith("/ErrorBody")
    codes = spec["components"]["schemas"]["ErrorCode"]["enum"]
    assert {"connector_blocked", "update_mismatch", "token_revoked", "not_authorized"} <= set(codes)


def test_every_failure_is_an_error_body(server: Server) -> None:
    missing = httpx.get(f"{server.url}/api/v1/nowhere")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    no_update = httpx.post(f"{server.url}/api/v1/status", json={"environments": []})
    assert no_update.status_code == 400
    assert "Koppel-Update" in no_update.json()["message"]
    bad_body = httpx.post(
        f"{server.url}/api/v1/links", json={"nope": 1}, headers={"Koppel-Update": "2026.2"}
    )
    assert bad_body.status_code == 400 and bad_body.json()["code"] == "validation_error"
    no_token = httpx.get(
        f"{server.url}/api/v1/environments/F1/me", headers={"Koppel-Update": "2026.2"}
    )
    assert no_token.status_code in (401, 404)
    no_login = httpx.get(f"{server.url}/api/v1/environments/F10001/settings")
    assert no_login.status_code == 401 and no_login.json()["code"] == "invalid_credentials"
