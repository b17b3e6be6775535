"""The device authorization grant (RFC 8628): the agent gets settings, a bundle or an
installation that the user approved in the browser, after sign-in and second factor, and
never sees the password. The real app in process; Authlib's OAuth 2 client shows that a
kept implementation speaks to the token endpoint."""

from __future__ import annotations

import httpx
import pytest

from app_client import DEMO_PASSWORD, PUBLIC_URL, UPDATE, InProcess, bearer, run_async
from device_support import (
    current_code,
    decide,
    enrol_second_factor,
    give_code,
    poll,
    sign_in,
    start,
)
from koppel.protocol.device import CLIENT_ID, GRANT_TYPE, TOKEN_PATH
from koppel.server.domain.model import Kind
from koppel.server.domain.setup.administration import Admin
from portal_client import text_of

APPROVE = 'name="decision" value="approve"'  # the Approve button of the decision page


def approve(app: InProcess, user_code: str, login: str = "anna") -> httpx.Response:
    """Sign in on the device page (no second factor) and approve; the last page."""
    browser = app.client()
    asked = sign_in(browser, user_code, login, DEMO_PASSWORD)
    assert asked.status_code == 200 and APPROVE in asked.text, text_of(asked.text)
    return decide(browser, asked, user_code, "approve")


def test_settings_approved_in_the_browser_link_a_workstation(demo_app: InProcess) -> None:
    agent = demo_app.client()
    started = start(agent, "settings:C20001", workstation="Laptop Anna")
    assert started["verification_uri"] == f"{PUBLIC_URL}/device"
    assert started["verification_uri_complete"].endswith(f"?user_code={started['user_code']}")
    assert started["expires_in"] == 900 and started["interval"] == 5
    waiting = poll(agent, started["device_code"])
    assert waiting.status_code == 400 and waiting.json()["error"] == "authorization_pending"

    browser = demo_app.client()
    asked = sign_in(browser, started["user_code"], "anna", DEMO_PASSWORD)
    page = text_of(asked.text)
    assert "Koppel on the computer Laptop Anna asks" in page
    assert "the settings file of environment C20001 (Bakkerij Jansen)" in page
    done = decide(browser, asked, started["user_code"], "approve")
    assert "Approved" in text_of(done.text)

    demo_app.clock.advance(seconds=6)
    granted = poll(agent, started["device_code"])
    assert granted.status_code == 200, granted.text
    assert granted.headers["cache-control"] == "no-store"
    token = granted.json()
    assert token["token_type"] == "Bearer" and token["scope"] == "settings:C20001"
    assert token["access_token"].startswith("kpla_")
    # The device code works once.
    assert poll(agent, started["device_code"]).json()["error"] == "invalid_grant"

    access = {"Authorization": f"Bearer {token['access_token']}"}
    settings = agent.get("/api/v1/environments/C20001/settings", headers=access)
    assert settings.status_code == 200, settings.text
    assert settings.json()["user"]["login"] == "anna"
    linked = agent.post(
        "/api/v1/links",
        headers=UPDATE,
        json={"workstation": {"id": "laptop-anna-1", "name": "Laptop Anna"},
              "settings": [settings.json()]},
    )  # fmt: skip
    assert linked.status_code == 200, linked.text
    user_token = linked.json()["links"][0]["token"]
    me = agent.get("/api/v1/environments/C20001/me", headers=bearer(user_token))
    assert me.status_code == 200 and me.json()["login"] == "anna"

    # The approval covers what was asked, nothing else.
    for other in ("C20002/settings", "C20001/installation", "F10001/settings-bundle"):
        refused = agent.get(f"/api/v1/environments/{other}", headers=access)
        assert refused.status_code == 401 and refused.json()["code"] == "token_invalid", other
    # ...and for ten minutes.
    demo_app.clock.advance(minutes=11)
    late = agent.get("/api/v1/environments/C20001/settings", headers=access)
    assert late.status_code == 401


def test_a_second_factor_is_asked_before_the_decision(demo_app: InProcess) -> None:
    policy = demo_app.svc.policy
    with demo_app.transaction() as uow:
        secret = enrol_second_factor(uow.core, uow.portal, policy, uow.core.account("anna"))
    demo_app.clock.advance(seconds=31)  # the enrolment's code cannot be used again
    agent, browser = demo_app.client(), demo_app.client()
    started = start(agent, "bundle:F10001")
    code = started["user_code"]
    challenge = sign_in(browser, code, "anna", DEMO_PASSWORD)
    assert "Two-step verification" in text_of(challenge.text)
    assert APPROVE not in challenge.text
    # The decision cannot be skipped to.
    skipped = decide(browser, challenge, code, "approve")
    assert "Approved" not in text_of(skipped.text)
    assert "Give the code of your authenticator app first" in text_of(skipped.text)
    assert poll(agent, started["device_code"]).json()["error"] == "authorization_pending"

    wrong = give_code(browser, skipped, code, "000000")
    assert wrong.status_code == 401 and "That code is wrong" in text_of(wrong.text)
    with demo_app.transaction() as uow:
        since = demo_app.clock() - policy.lockout
        assert len(uow.portal.failures(login="anna", since=since)) == 1
    asked = give_code(browser, wrong, code, current_code(secret, demo_app.clock()))
    assert "the settings of every client environment of F10001 (Dekker" in text_of(asked.text)
    decide(browser, asked, code, "approve")
    demo_app.clock.advance(seconds=6)
    token = poll(agent, started["device_code"]).json()["access_token"]
    bundle = agent.get(
        "/api/v1/environments/F10001/settings-bundle",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert bundle.status_code == 200 and len(bundle.json()["settings"]) == 3


def test_denied_in_the_browser_reaches_the_agent(demo_app: InProcess) -> None:
    agent, browser = demo_app.client(), demo_app.client()
    started = start(agent, "installation:F10001")
    asked = sign_in(browser, started["user_code"], "bram", DEMO_PASSWORD)
    assert "the Koppel installation of environment F10001" in text_of(asked.text)
    done = decide(browser, asked, started["user_code"], "deny")
    assert "Not approved" in text_of(done.text)
    answer = poll(agent, started["device_code"])
    assert answer.status_code == 400 and answer.json()["error"] == "access_denied"
    assert "denied in the browser" in answer.json()["error_description"]


def test_unknown_and_foreign_environments_look_the_same(demo_app: InProcess) -> None:
    with demo_app.transaction() as uow:
        Admin(uow.core, demo_app.svc.policy, "test").create_environment(
            "C29999", "Geheim BV", Kind.CLIENT, has_portal=False, firm="F10001"
        )
    agent = demo_app.client()
    known, unknown = start(agent, "settings:C29999"), start(agent, "settings:C28888")
    # Before sign-in nothing depends on the environment.
    assert set(known) == set(unknown)
    assert known["verification_uri"] == unknown["verification_uri"]
    pages = []
    for started in (known, unknown):
        browser = demo_app.client()
        form = browser.get(f"/device?user_code={started['user_code']}")
        assert "Geheim" not in form.text and "C29999" not in form.text
        asked = sign_in(browser, started["user_code"], "anna", DEMO_PASSWORD)
        pages.append(text_of(asked.text).replace(started["user_code"], "CODE"))
        decide(browser, asked, started["user_code"], "deny")
    assert "anna is not a user of environment C29999" in pages[0]
    assert "Geheim" not in pages[0]
    assert pages[0].replace("C29999", "X") == pages[1].replace("C28888", "X")
    for started in (known, unknown):
        answer = poll(agent, started["device_code"]).json()
        assert (
            answer["error"] == "access_denied" and "is not a user of" in answer["error_description"]
        )


def test_polling_too_fast_slows_down_and_the_code_expires(demo_app: InProcess) -> None:
    agent = demo_app.client()
    started = start(agent, "settings:F10001")
    assert poll(agent, started["device_code"]).json()["error"] == "authorization_pending"
    too_soon = poll(agent, started["device_code"])
    assert too_soon.json()["error"] == "slow_down"
    demo_app.clock.advance(seconds=9)  # the interval grew to 10 seconds
    assert poll(agent, started["device_code"]).json()["error"] == "slow_down"
    demo_app.clock.advance(minutes=16)
    assert poll(agent, started["device_code"]).json()["error"] == "expired_token"
    late = sign_in(demo_app.client(), started["user_code"], "anna", DEMO_PASSWORD)
    assert late.status_code == 404 and "has expired" in text_of(late.text)


def test_only_the_browser_that_signed_in_may_decide(demo_app: InProcess) -> None:
    started = start(demo_app.client(), "settings:F10001")
    code = started["user_code"]
    mine, other = demo_app.client(), demo_app.client()
    asked = sign_in(mine, code, "anna", DEMO_PASSWORD)
    # Another browser with the same code: no decision page, no decision.
    peek = other.get(f"/device/confirm?user_code={code}")
    assert APPROVE not in peek.text and peek.status_code == 404
    stolen_form = other.get("/device")
    forged = decide(other, stolen_form, code, "approve")
    assert "Approved" not in text_of(forged.text)
    assert decide(mine, asked, code, "approve").status_code == 200


def test_guessing_user_codes_is_throttled_per_address(demo_app: InProcess) -> None:
    guesser = demo_app.client("10.0.0.99")
    for _ in range(30):
        wrong = sign_in(guesser, "BCDF-GHJK", "anna", DEMO_PASSWORD)
        assert wrong.status_code == 404
    started = start(demo_app.client(), "settings:F10001")
    throttled = sign_in(guesser, started["user_code"], "anna", DEMO_PASSWORD)
    assert throttled.status_code == 429
    # Nobody's login was locked by the guesses.
    fine = sign_in(demo_app.client("10.0.0.5"), started["user_code"], "anna", DEMO_PASSWORD)
    assert APPROVE in fine.text


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"client_id": "someone-else", "scope": "settings:F10001"}, 401, "invalid_client"),
        ({"client_id": CLIENT_ID, "scope": "everything"}, 400, "invalid_scope"),
        (
            {"client_id": CLIENT_ID, "scope": "settings:F1 bundle:A1 installation:B2 settings:C3"},
            400,
            "invalid_scope",
        ),
    ],
)
def test_bad_authorization_requests_get_oauth_errors(
    demo_app: InProcess, form: dict[str, str], status: int, error: str
) -> None:
    answer = demo_app.client().post("/api/v1/device/authorize", data=form)
    assert answer.status_code == status and answer.json()["error"] == error


# Authlib announces a move to "httpx2"; its httpx client is what it ships today.
@pytest.mark.filterwarnings("ignore:The httpx module is deprecated")
def test_authlib_s_oauth2_client_gets_the_token(demo_app: InProcess) -> None:
    """A kept OAuth 2.0 implementation (Authlib's httpx client) against the endpoint."""
    from authlib.integrations.base_client.errors import OAuthError
    from authlib.integrations.httpx_client import AsyncOAuth2Client

    started = start(demo_app.client(), "settings:F10001")

    async def fetch() -> dict[str, str]:
        async with AsyncOAuth2Client(
            client_id=CLIENT_ID,
            token_endpoint_auth_method="none",
            transport=httpx.ASGITransport(app=demo_app.app),
            base_url=PUBLIC_URL,
        ) as client:
            return dict(
                await client.fetch_token(
                    f"{PUBLIC_URL}{TOKEN_PATH}",
                    grant_type=GRANT_TYPE,
                    device_code=started["device_code"],
                )
            )

    with pytest.raises(OAuthError) as pending:
        run_async(fetch())
    assert pending.value.error == "authorization_pending"
    approve(demo_app, started["user_code"])
    demo_app.clock.advance(seconds=6)
    token = run_async(fetch())
    assert token["token_type"].lower() == "bearer" and token["access_token"].startswith("kpla_")
