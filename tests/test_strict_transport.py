"""HSTS: every response (API, portal, assets, documentation, refusals) carries
``Strict-Transport-Security`` when the server's public URL is https, none otherwise."""

from __future__ import annotations

from pathlib import Path

from app_client import UPDATE, bearer, make_in_process

HSTS = "max-age=31536000; includeSubDomains"


def test_hsts_only_behind_an_https_public_url(tmp_path: Path) -> None:
    https = make_in_process(tmp_path / "https", public_url="https://koppel.example")
    plain = make_in_process(tmp_path / "http")
    try:
        for app, expected in ((https, HSTS), (plain, None)):
            client = app.client()
            token = app.token("C20001")
            answers = [
                client.get("/portal/F10001/sign-in"),
                client.get("/assets/portal.css"),
                client.get("/healthz"),
                client.get("/openapi.json"),
                client.get("/api/v1/environments/C20001/me", headers=bearer(token)),
                client.get("/api/v1/environments/C20001/me", headers=UPDATE),  # 401
            ]
            for answer in answers:
                assert answer.headers.get("strict-transport-security") == expected, (
                    answer.request.url,
                    answer.status_code,
                )
    finally:
        https.close()
        plain.close()
