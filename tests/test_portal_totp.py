"""The optional second factor, on the app in process: enrol (QR code inline, secret in
text), confirm with a code from an independent RFC 6238 implementation, the second
sign-in step (wrong, right, replayed, recovery code once, lockout), pages held back while
it is pending, turning it off, and `koppel-admin accounts reset-second-factor`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
import time

import httpx
import pytest

from app_client import InProcess
from harness import DEMO_PASSWORD
from portal_client import Portal, text_of

HOME = "/portal/F10001/"
SECOND_FACTOR = "/portal/F10001/second-factor"


@pytest.fixture
def timed_app(demo_app: InProcess) -> InProcess:
    """The app in process, its clock keeping time with the phone's."""
    demo_app.clock.run()
    return demo_app


def rfc6238(secret: str, at: float, step: int = 30, digits: int = 6) -> str:
    """TOTP written from the RFC, independently of the server's code."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = struct.pack(">Q", int(at) // step)
    mac = hmac.new(key, counter, hashlib.sha1).digest()
    offset = mac[19] & 0xF
    value = (int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF) % 10**digits
    return f"{value:0{digits}d}"


class Authenticator:
    """The phone: codes of a secret, each of a time step later than the last one used
    (the server accepts a step once, and one step either side of now)."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.used = 0

    def code(self) -> str:
        while True:
            now = int(time.time()) // 30
            step = max(self.used + 1, now)
            if step <= now + 1:
                self.used = step
                return rfc6238(self.secret, step * 30)
            time.sleep(30 - time.time() % 30 + 0.1)


def enrol(anna: Portal) -> tuple[Authenticator, list[str]]:
    """Turn TOTP on from the security page: the secret and the recovery codes."""
    page = anna.get(anna.path("security"))
    assert "Off" in text_of(page.text)
    shown = anna.post(anna.path("security", "enrol"))
    assert shown.url.path == "/portal/F10001/security/enrol"
    # The QR code is inline SVG (no image fetched from anywhere), the key is in text.
    svg = re.search(r"(?s)<svg [^>]*>.*?</svg>", shown.text)
    assert svg and "<title>QR code" in svg.group(0) and "<img" not in shown.text
    found = re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', shown.text)
    assert found
    secret = found.group(1).replace(" ", "")
    wrong = anna.post(anna.path("security", "confirm"), {"otp": "000000"})
    assert wrong.status_code == 401 and "does not match" in text_of(wrong.text)
    phone = Authenticator(secret)
    done = anna.post(anna.path("security", "confirm"), {"otp": phone.code()})
    assert done.status_code == 200, text_of(done.text)
    codes = re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", done.text)
    assert len(codes) == 10 and "shown only this once" in text_of(done.text)
    assert "On" in text_of(anna.get(anna.path("security")).text)
    return phone, codes


def password_step(portal: Portal) -> httpx.Response:
    """Sign in with the password; an enrolled account lands on the second-factor page."""
    page = portal.sign_in("anna")
    assert page.url.path == SECOND_FACTOR, page.url
    assert "Two-step verification" in page.text and 'name="otp"' in page.text
    return page


def test_enrol_then_sign_in_with_a_code(timed_app: InProcess) -> None:
    srv = timed_app
    with Portal(srv) as anna:
        anna.signed_in("anna")
        phone, codes = enrol(anna)
        code = phone.code()
        anna.post(anna.path("sign-out"))

    with Portal(srv) as anna:
        password_step(anna)
        # Every other page waits for the second factor, and says where to go.
        for page in ("", "security", "devices", "environments/F10001"):
            held = anna.get(anna.path(page), follow_redirects=False)
            assert held.status_code == 303, page
            assert held.headers["location"].startswith(SECOND_FACTOR + "?next=")
        wrong = anna.post(SECOND_FACTOR, {"otp": "123456" if code != "123456" else "654321"})
        assert wrong.status_code == 401 and "wrong or was already used" in text_of(wrong.text)
        right = anna.post(SECOND_FACTOR, {"otp": code})
        assert right.url.path == HOME and "Welcome" in right.text

    # The same code again, in another sign-in: refused, it was used.
    with Portal(srv) as other:
        password_step(other)
        replay = other.post(SECOND_FACTOR, {"otp": code})
        assert replay.status_code == 401
        assert other.get(HOME).url.path == SECOND_FACTOR
        # A recovery code works, written loosely, and only once.
        ok = other.post(SECOND_FACTOR, {"otp": codes[0].upper().replace("-", " ")})
        assert ok.url.path == HOME
        assert "Recovery codes left: 9 of 10" in text_of(other.get(other.path("security")).text)
    with Portal(srv) as again:
        password_step(again)
        assert again.post(SECOND_FACTOR, {"otp": codes[0]}).status_code == 401
        assert again.post(SECOND_FACTOR, {"otp": codes[1]}).url.path == HOME

    actions = [e["action"] for e in srv.ok("audit", "--json").json()["entries"]]
    for action in ("second_factor.enrol", "second_factor.confirm",
                   "second_factor.recovery_used"):  # fmt: skip
        assert action in actions

    # Lost phone: the administrator turns it off, which also ends anna's open sessions;
    # then the password alone signs in.
    held = Portal(srv)
    password_step(held)
    assert held.post(SECOND_FACTOR, {"otp": codes[2]}).url.path == HOME
    reset = srv.ok("accounts", "reset-second-factor", "anna", "--json").json()
    assert held.get(HOME).url.path.endswith("/sign-in")
    held.http.close()
    assert reset["changed"] is True
    assert srv.ok("accounts", "reset-second-factor", "anna", "--json").json()["changed"] is False
    assert "second_factor.reset" in [
        e["action"] for e in srv.ok("audit", "--json").json()["entries"]
    ]
    with Portal(srv) as anna:
        anna.signed_in("anna")
        assert "Off" in text_of(anna.get(anna.path("security")).text)
    missing = srv.admin("accounts", "reset-second-factor", "nobody", "--json")
    assert missing.returncode == 4 and missing.json()["error"]["code"] == "not_found"


def test_next_survives_the_second_step_but_not_off_portal(timed_app: InProcess) -> None:
    srv = timed_app
    with Portal(srv) as anna:
        anna.signed_in("anna")
        phone, codes = enrol(anna)
    for target, lands, code in (
        ("/portal/F10001/security", "/portal/F10001/security", phone.code()),
        ("https://evil.example/", HOME, codes[0]),
    ):
        with Portal(srv) as anna:
            anna.get(anna.path("sign-in"))
            form = {"login": "anna", "password": DEMO_PASSWORD, "next": target}
            page = anna.post(anna.path("sign-in"), form)
            assert page.url.path == SECOND_FACTOR
            found = re.search(r'name="next" value="([^"]+)"', page.text)
            assert found and found.group(1) == lands
            wrong = anna.post(SECOND_FACTOR, {"otp": "000000", "next": target})
            assert wrong.status_code == 401
            done = anna.post(SECOND_FACTOR, {"otp": code, "next": target})
            assert done.url.path == lands, text_of(done.text)


def test_wrong_codes_lock_the_login(timed_app: InProcess) -> None:
    srv = timed_app
    with Portal(srv) as anna:
        anna.signed_in("anna")
        phone, _codes = enrol(anna)
    with Portal(srv) as anna:
        password_step(anna)
        for _ in range(5):
            assert anna.post(SECOND_FACTOR, {"otp": "000000"}).status_code == 401
        code = phone.code()
        locked = anna.post(SECOND_FACTOR, {"otp": code})
        assert locked.status_code == 429 and "locked" in text_of(locked.text)
        assert anna.get(HOME).url.path == SECOND_FACTOR
    with Portal(srv) as anna:
        refused = anna.sign_in("anna")
        assert refused.status_code == 429
    srv.ok("accounts", "unlock", "anna")
    with Portal(srv) as anna:
        password_step(anna)
        assert anna.post(SECOND_FACTOR, {"otp": code}).url.path == HOME


def test_signing_in_again_does_not_reset_wrong_codes(timed_app: InProcess) -> None:
    srv = timed_app
    with Portal(srv) as anna:
        anna.signed_in("anna")
        enrol(anna)
    for _ in range(2):
        with Portal(srv) as anna:
            password_step(anna)
            for _ in range(3):
                anna.post(SECOND_FACTOR, {"otp": "000000"})
    with Portal(srv) as anna:
        assert anna.sign_in("anna").status_code == 429


def test_turning_it_off_needs_a_code_or_the_password(timed_app: InProcess) -> None:
    srv = timed_app
    with Portal(srv) as anna:
        anna.signed_in("anna")
        phone, _codes = enrol(anna)
        refused = anna.post(anna.path("security", "disable"), {"password": "wrong-password"})
        assert refused.status_code == 401 and "nothing was changed" in text_of(refused.text)
        new = anna.post(anna.path("security", "recovery-codes"), {"password": DEMO_PASSWORD})
        codes = re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", new.text)
        assert len(codes) == 10
        assert "Recovery codes left: 10 of 10" in text_of(anna.get(anna.path("security")).text)
        off = anna.post(anna.path("security", "disable"), {"otp": phone.code()})
        assert off.url.path == "/portal/F10001/security"
        assert "Two-step verification is off." in text_of(off.text)
        assert 'role="status"' in off.text
        # A notice is chosen by key; text in the query never reaches the page.
        forged = anna.get(anna.path("security") + "?done=<b>hacked</b>")
        assert "hacked" not in forged.text
    with Portal(srv) as anna:
        anna.signed_in("anna")  # the password alone again


def test_sign_out_everywhere_else(timed_app: InProcess) -> None:
    with Portal(timed_app) as laptop, Portal(timed_app) as phone:
        laptop.signed_in("anna")
        phone.signed_in("anna")
        done = laptop.post(laptop.path("security", "sign-out-others"))
        assert "Every other browser signed in to this account is signed out." in text_of(done.text)
        assert phone.get(HOME).url.path == "/portal/F10001/sign-in"
        assert "Welcome" in laptop.get(HOME).text
        alone = laptop.post(laptop.path("security", "sign-out-others"))
        assert "No other browser was signed in." in text_of(alone.text)
