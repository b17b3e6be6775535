"""The in-process client reaches the real app: the API with a token from a real link."""

from __future__ import annotations

from app_client import UPDATE, InProcess, bearer


def test_token_from_a_real_link_opens_the_api(demo_app: InProcess) -> None:
    client = demo_app.client()
    token = demo_app.token("C20001", "anna")
    me = client.get("/api/v1/environments/C20001/me", headers=bearer(token))
    assert me.status_code == 200, me.text
    assert me.json()["login"] == "anna" and me.json()["environment"] == "C20001"
    refused = client.get("/api/v1/environments/C20001/me", headers=UPDATE)
    assert refused.status_code == 401 and refused.json()["code"] == "token_missing"


def test_clock_moves_for_the_rules(demo_app: InProcess) -> None:
    before = demo_app.svc.policy.clock()
    demo_app.clock.advance(days=2)
    assert (demo_app.svc.policy.clock() - before).days == 2
