"""Portal sign-in hardening, on the app in process: the home page after sign-in, wrong
passwords, lockout (lifted by `koppel-admin accounts unlock`, kept over a restart),
refusals that name the missing step, CSRF, cookie flags, security headers, sign-out,
no open redirect, and sessions ending when the account is disabled. The restart is a real
``koppel-server`` process's."""

from __future__ import annotations

import re

import httpx

from app_client import InProcess
from harness import DEMO_PASSWORD, Server
from portal_client import Portal, text_of

HOME = "/portal/F10001/"


def set_cookies(response: httpx.Response) -> list[str]:
    return response.headers.get_list("set-cookie")


def session_cookie(response: httpx.Response) -> str | None:
    for header in set_cookies(response):
        if header.startswith("koppel_session=") and not header.startswith('koppel_session="";'):
            return header
    return None


def post_sign_in(portal: Portal, login: str, password: str, **extra: str) -> httpx.Response:
    """Submit the sign-in form once (no redirects followed)."""
    portal.get(portal.path("sign-in"))
    form = {"login": login, "password": password, **extra}
    return portal.post(portal.path("sign-in"), form, follow_redirects=False)


def test_sign_in_lands_on_home_with_every_environment(demo_app: InProcess) -> None:
    with Portal(demo_app) as anna:
        page = anna.sign_in("anna")
        assert page.status_code == 200 and page.url.path == HOME
        text = text_of(page.text)
        assert "Welcome, Anna de Boer" in text
        rows = re.findall(r"(?s)<tr>(.*?)</tr>", page.text)
        shown = {code: text_of(row) for row in rows for code in re.findall(r">([FC]\d{5}) ·", row)}
        assert set(shown) == {"F10001", "C20001", "C20002", "C20003"}, text
        for code, row in shown.items():
            assert "2026.2" in row and "Ready" in row and "Not ready" not in row, (code, row)


def test_wrong_password_is_refused_without_a_session(demo_app: InProcess) -> None:
    with Portal(demo_app) as anna:
        response = post_sign_in(anna, "anna", "not-the-password")
        assert response.status_code == 401
        assert "The login or password is wrong" in text_of(response.text)
        assert 'role="alert"' in response.text
        assert session_cookie(response) is None
        assert "koppel_session" not in anna.http.cookies
        # The form comes back with the login filled in, ready for another try.
        assert 'value="anna"' in response.text
        assert anna.get(HOME).url.path == "/portal/F10001/sign-in"


def test_lockout_after_five_failures_until_unlocked(demo_app: InProcess) -> None:
    srv = demo_app
    with Portal(srv) as anna:
        for _ in range(5):
            assert post_sign_in(anna, "anna", "wrong-password").status_code == 401
        # The sixth attempt is refused even with the right password.
        locked = post_sign_in(anna, "anna", DEMO_PASSWORD)
        assert locked.status_code == 429, text_of(locked.text)
        text = text_of(locked.text)
        assert "locked" in text and "koppel-admin accounts unlock anna" in text
        assert session_cookie(locked) is None
        # Other logins are not locked by anna's failures.
        with Portal(srv) as bram:
            bram.signed_in("bram")

        unlocked = srv.ok("accounts", "unlock", "anna", "--json").json()
        assert unlocked["changed"] is True and unlocked["failures"] == 5
        assert "unlocked" in unlocked["outcomes"][0]["message"]
        anna.signed_in("anna")
    again = srv.ok("accounts", "unlock", "anna", "--json").json()
    assert again["changed"] is False and again["failures"] == 0
    entries = srv.ok("audit", "--action", "account.unlock", "--json").json()["entries"]
    assert [(e["actor"], e["detail"]) for e in entries] == [
        ("cli:test-admin", {"login": "anna", "failures": 5})
    ]
    unknown = srv.admin("accounts", "unlock", "nobody")
    assert unknown.returncode == 4 and "no account" in unknown.output


def test_lockout_survives_a_restart(demo_server: Server) -> None:
    srv = demo_server
    with Portal(srv) as anna:
        for _ in range(5):
            post_sign_in(anna, "anna", "wrong-password")
    srv.stop()
    srv.start()
    with Portal(srv) as anna:
        locked = post_sign_in(anna, "anna", DEMO_PASSWORD)
        assert locked.status_code == 429 and "locked" in text_of(locked.text)


def test_user_without_portal_access_is_told_the_missing_step(demo_app: InProcess) -> None:
    srv = demo_app
    srv.ok("portal", "revoke", "F10001", "bram")
    with Portal(srv) as bram:
        refused = post_sign_in(bram, "bram", DEMO_PASSWORD)
        assert refused.status_code == 403
        text = text_of(refused.text)
        assert "Users have portal access" in text
        assert "koppel-admin portal grant F10001 bram" in text
        assert session_cookie(refused) is None
    srv.ok("portal", "grant", "F10001", "bram")
    with Portal(srv) as bram:
        bram.signed_in("bram")


def test_client_environment_has_no_portal(demo_app: InProcess) -> None:
    with Portal(demo_app, "C20001") as visitor:
        page = visitor.get(visitor.path("sign-in"))
        assert page.status_code == 404
        text = text_of(page.text)
        assert "C20001 has no portal of its own" in text
        assert "Its main site is" in text and "/portal/F10001" in text


def test_forms_without_the_csrf_token_change_nothing(demo_app: InProcess) -> None:
    with Portal(demo_app) as anna:
        anna.signed_in("anna")
        for form in ({}, {"csrf_token": "forged-token"}):
            refused = anna.post(anna.path("sign-out"), form, csrf=False, follow_redirects=False)
            assert refused.status_code == 403, refused.text
            assert "nothing was changed" in text_of(refused.text)
        # A token in the header is checked the same way.
        header = anna.http.post(anna.path("sign-out"), headers={"X-CSRF-Token": "forged"})
        assert header.status_code == 403
        home = anna.get(HOME)
        assert home.status_code == 200 and "Welcome" in home.text

    # The sign-in form itself: the double-submit token must be there and match.
    with Portal(demo_app) as anna:
        anna.get(anna.path("sign-in"))
        form = {"login": "anna", "password": DEMO_PASSWORD}
        for token in (None, "forged-token"):
            data = dict(form, **({"csrf_token": token} if token else {}))
            refused = anna.post(anna.path("sign-in"), data, csrf=False, follow_redirects=False)
            assert refused.status_code == 403 and session_cookie(refused) is None


def test_session_cookie_flags(demo_app: InProcess) -> None:
    with Portal(demo_app) as anna:
        response = post_sign_in(anna, "anna", DEMO_PASSWORD)
        assert response.status_code == 303
        cookie = session_cookie(response)
        assert cookie is not None
        attributes = {
            part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")
        }
        assert "httponly" in attributes
        assert attributes["samesite"].lower() == "samesite=lax"
        assert attributes["path"] == "Path=/portal/F10001/"
        assert "secure" not in attributes  # plain http on loopback


def test_security_headers_on_portal_pages(demo_app: InProcess) -> None:
    with Portal(demo_app) as anna:
        sign_in_page = anna.get(anna.path("sign-in"))
        home = anna.signed_in("anna").get(HOME)
        missing = anna.get(anna.path("no-such-page"))
        assert missing.status_code == 404
        for page in (sign_in_page, home, missing):
            headers = page.headers
            csp = headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
            assert "script-src" not in csp  # no script at all
            assert headers["x-content-type-options"] == "nosniff"
            assert headers["referrer-policy"] in ("same-origin", "no-referrer", "strict-origin")
            assert "no-store" in headers["cache-control"]
            assert "<script" not in page.text


def test_sign_out_ends_the_session_everywhere(demo_app: InProcess) -> None:
    with Portal(demo_app) as anna, Portal(demo_app) as thief:
        anna.signed_in("anna")
        value = anna.http.cookies.get("koppel_session")
        assert value
        thief.http.cookies.set("koppel_session", value, path="/portal/F10001/")
        assert "Welcome" in thief.get(HOME).text  # the same session, before sign-out
        out = anna.post(anna.path("sign-out"))
        assert out.url.path == "/portal/F10001/sign-in"
        assert anna.get(HOME).url.path == "/portal/F10001/sign-in"
        replayed = thief.get(HOME, follow_redirects=False)
        assert replayed.status_code == 303
        assert replayed.headers["location"].startswith("/portal/F10001/sign-in")


def test_next_never_leaves_the_portal(demo_app: InProcess) -> None:
    targets = ["https://evil.example", "//evil.example/portal/F10001/",
               "/portal/F10001//evil.example", "/portal/F100012/", "/portal/C20001/"]  # fmt: skip
    for target in targets:
        with Portal(demo_app) as anna:
            response = post_sign_in(anna, "anna", DEMO_PASSWORD, next=target)
            assert response.status_code == 303
            assert response.headers["location"] == HOME, (target, response.headers)
    # A page of this portal is where the sign-in goes on to.
    with Portal(demo_app) as anna:
        asked = anna.get(anna.path("security"))
        assert asked.url.path == "/portal/F10001/sign-in"
        found = re.search(r'name="next" value="([^"]+)"', asked.text)
        assert found and found.group(1) == "/portal/F10001/security"
        form = {"login": "anna", "password": DEMO_PASSWORD, "next": found.group(1)}
        response = anna.post(anna.path("sign-in"), form)
        assert response.url.path == "/portal/F10001/security"


def test_disabled_account_loses_its_live_session(demo_app: InProcess) -> None:
    srv = demo_app
    with Portal(srv) as bram:
        bram.signed_in("bram")
        srv.ok("accounts", "disable", "bram")
        assert bram.get(HOME).url.path == "/portal/F10001/sign-in"
        refused = post_sign_in(bram, "bram", DEMO_PASSWORD)
        assert refused.status_code == 403 and "is disabled" in text_of(refused.text)
        srv.ok("accounts", "enable", "bram")
        bram.signed_in("bram")


def test_a_session_ended_for_lost_access_stays_ended(demo_app: InProcess) -> None:
    srv = demo_app
    with Portal(srv) as bram:
        bram.signed_in("bram")
        srv.ok("accounts", "disable", "bram")
        assert bram.get(HOME).url.path == "/portal/F10001/sign-in"
        srv.ok("accounts", "enable", "bram")
        assert bram.get(HOME).url.path == "/portal/F10001/sign-in"
