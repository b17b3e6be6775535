"""The portal's frame (issue 15): the page's language and time zone, the language switch,
local times, the firm's branding (``koppel-admin portal brand``), its logo route and the
favicon; the sign-in page with the firm's name and the home page's install in plain words.

The app in process (``demo_app``); ``koppel-admin`` through the real CLI in process."""

from __future__ import annotations

import re
import struct
import zlib
from datetime import UTC, datetime
from pathlib import Path

from app_client import InProcess
from harness import make_server
from koppel.server.domain.portal.branding import contrast, text_color
from portal_client import text_of
from portal_in_process import PortalBrowser

FIRM, FIRM_NAME = "F10001", "Dekker & Co Accountants"
WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120 Safari/537.36"
MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 Safari/605.1.15"


def png(width: int = 2, height: int = 1) -> bytes:
    """A real (tiny, red) PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))  # fmt: skip


def lang_of(html: str) -> str:
    found = re.search(r'<html lang="([a-z]+)">', html)
    assert found, html[:200]
    return found.group(1)


def sign_in_page(app: InProcess, **headers: str) -> tuple[PortalBrowser, str]:
    browser = PortalBrowser(app)
    page = browser.get(browser.path("sign-in"), headers=headers)
    assert page.status_code == 200
    return browser, page.text


# --- which language, which zone


def test_the_page_speaks_the_browsers_language_and_says_so(demo_app: InProcess) -> None:
    browser = PortalBrowser(demo_app)
    page = browser.get(browser.path("sign-in"), headers={"Accept-Language": "nl-NL,nl;q=0.9"})
    assert lang_of(page.text) == "nl"
    assert page.headers["Content-Language"] == "nl"
    assert "Accept-Language" in page.headers["Vary"] and "Cookie" in page.headers["Vary"]
    assert f"Aanmelden bij het portaal van {FIRM_NAME}" in page.text.replace("&amp;", "&")
    french = browser.get(browser.path("sign-in"), headers={"Accept-Language": "fr-BE"})
    assert lang_of(french.text) == "fr" and french.headers["Content-Language"] == "fr"


def test_the_choice_order_account_cookie_browser_environment_english(
    demo_app: InProcess,
) -> None:
    # Nothing asked: English.
    _, text = sign_in_page(demo_app)
    assert lang_of(text) == "en"
    # The environment's default, for browsers that ask for nothing Koppel speaks.
    demo_app.ok("portal", "brand", FIRM, "--language", "fr")
    _, text = sign_in_page(demo_app)
    assert lang_of(text) == "fr"
    _, text = sign_in_page(demo_app, **{"Accept-Language": "de-DE"})
    assert lang_of(text) == "fr"
    # The browser's language beats the environment's.
    _, text = sign_in_page(demo_app, **{"Accept-Language": "nl"})
    assert lang_of(text) == "nl"
    # The switch's cookie beats the browser's.
    browser = PortalBrowser(demo_app)
    browser.post(browser.path("language"), {"language": "en", "back": browser.path("sign-in")})
    page = browser.get(browser.path("sign-in"), headers={"Accept-Language": "nl"})
    assert lang_of(page.text) == "en"
    # The account's saved language beats the cookie.
    with demo_app.transaction() as uow:
        anna = uow.core.account("anna")
        anna.language = "nl"
        uow.core.save_account(anna)
    browser.signed_in("anna")
    assert lang_of(browser.get(browser.path()).text) == "nl"


def test_a_client_portal_takes_its_firms_language_name_and_zone(demo_app: InProcess) -> None:
    demo_app.ok("env", "create", "C29999", "--name", "Visserij Bos", "--kind", "client",
                "--portal", "--firm", FIRM)  # fmt: skip
    demo_app.ok("portal", "brand", FIRM, "--language", "nl", "--color", "#1f5fa8")
    browser = PortalBrowser(demo_app, "C29999")
    page = browser.get(browser.path("sign-in"))
    assert lang_of(page.text) == "nl"
    text = page.text.replace("&amp;", "&")
    assert f"Aanmelden bij het portaal van {FIRM_NAME}" in text
    assert "/portal/C29999/brand.css" in text
    # Its own language, once set, is its own.
    demo_app.ok("portal", "brand", "C29999", "--language", "fr")
    assert lang_of(browser.get(browser.path("sign-in")).text) == "fr"
    # Logo and colour of a managed client are its firm's: refused there, nothing changed.
    refused = demo_app.admin("portal", "brand", "C29999", "--color", "#000000", "--json")
    assert refused.returncode == 5
    assert refused.json()["error"]["code"] == "validation_error"


# --- the switch


def test_the_switch_signed_out_sets_a_cookie_and_goes_back(demo_app: InProcess) -> None:
    browser, text = sign_in_page(demo_app)
    # Three buttons of one form, the current one pressed: no script needed.
    for name in ("Nederlands", "Français", "English"):
        assert f">{name}</button>" in text
    assert 'aria-pressed="true">English</button>' in text
    back = browser.path("sign-in") + "?next=/portal/F10001/security"
    answer = browser.post(browser.path("language"), {"language": "fr", "back": back},
                          follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303 and answer.headers["location"] == back
    assert "koppel_lang=fr" in answer.headers["set-cookie"]
    page = browser.get(back, headers={"Accept-Language": "nl"})
    assert lang_of(page.text) == "fr"
    assert 'aria-pressed="true">Français</button>' in page.text
    # Elsewhere than this host: back to the portal instead.
    away = browser.post(browser.path("language"), {"language": "nl", "back": "//evil.example/"},
                        follow_redirects=False)  # fmt: skip
    assert away.headers["location"] == browser.path("")
    bad = browser.post(browser.path("language"), {"language": "de"}, follow_redirects=False)
    assert bad.status_code == 400


def test_the_switch_signed_in_saves_the_accounts_language(demo_app: InProcess) -> None:
    browser = PortalBrowser(demo_app).signed_in("anna")
    page = browser.post(browser.path("language"), {"language": "nl", "back": browser.path()})
    assert page.status_code == 200 and lang_of(page.text) == "nl"
    assert "Afmelden" in page.text
    with demo_app.transaction() as uow:
        assert uow.core.account("anna").language == "nl"
    # Without this session's CSRF token: only the cookie, the account keeps its choice.
    browser.post(browser.path("language"), {"language": "fr", "csrf_token": "forged"})
    with demo_app.transaction() as uow:
        assert uow.core.account("anna").language == "nl"
    # The saved choice follows anna to another browser.
    other = PortalBrowser(demo_app).signed_in("anna")
    assert lang_of(other.get(other.path()).text) == "nl"


# --- local time


def _link_at(demo_app: InProcess, moment: datetime) -> None:
    demo_app.clock.now = moment
    demo_app.token("C20001", "anna")


def test_times_are_shown_in_amsterdam_time_by_default(demo_app: InProcess) -> None:
    _link_at(demo_app, datetime(2026, 7, 1, 22, 30, tzinfo=UTC))
    browser = PortalBrowser(demo_app).signed_in("anna")
    page = browser.get(browser.path("devices"))
    assert "2 Jul 2026 00:30" in page.text  # UTC+2 in summer, the next day
    assert "UTC" not in page.text
    # Said once, in the footer, as people name it (not the IANA id).
    assert "Times are in the time zone of Amsterdam (Netherlands)." in text_of(page.text)
    assert "Europe/Amsterdam" not in page.text
    dutch = browser.get(browser.path("devices"), headers={"Accept-Language": "nl"})
    assert "2 jul 2026 00:30" in dutch.text


def test_times_are_shown_in_the_users_own_zone(demo_app: InProcess) -> None:
    _link_at(demo_app, datetime(2026, 7, 1, 22, 30, tzinfo=UTC))
    with demo_app.transaction() as uow:
        anna = uow.core.account("anna")
        anna.time_zone = "America/New_York"
        uow.core.save_account(anna)
    demo_app.ok("portal", "brand", FIRM, "--time-zone", "Europe/Brussels")
    browser = PortalBrowser(demo_app).signed_in("anna")
    page = browser.get(browser.path("devices"))
    assert "1 Jul 2026 18:30" in page.text and "New York (United States)" in page.text
    # bram chose none: the environment's zone.
    bram = PortalBrowser(demo_app).signed_in("bram")
    assert "Brussels (Belgium)" in bram.get(bram.path()).text


# --- branding


def test_brand_sets_logo_colour_language_and_zone(demo_app: InProcess, tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    logo.write_bytes(png())
    done = demo_app.ok("portal", "brand", FIRM, "--logo", str(logo), "--color", "#FFD700",
                       "--language", "nl", "--time-zone", "Europe/Brussels", "--json")  # fmt: skip
    shown = done.json()
    assert shown["color"] == "#ffd700" and shown["text_color"] == "#000000"
    assert shown["logo"] == {"type": "image/png", "bytes": len(png())}
    assert shown["language"] == "nl" and shown["time_zone"] == "Europe/Brussels"
    assert set(shown["changed"]) == {"logo", "color", "language", "time_zone"}
    again = demo_app.ok("portal", "brand", FIRM, "--color", "#ffd700")
    assert "already as asked" in again.stdout
    # Every page shows the name and logo, the header in the firm's colour.
    browser, text = sign_in_page(demo_app)
    logo_url = re.search(r'<img class="logo" src="([^"]+)"', text)
    assert logo_url and logo_url.group(1).startswith(f"/portal/{FIRM}/logo?v=")
    css_url = re.search(r'href="(/portal/F10001/brand.css\?v=\d+)"', text)
    assert css_url
    css = browser.get(css_url.group(1))
    assert "background: #ffd700" in css.text and "color: #000000" in css.text
    assert css.headers["content-type"].startswith("text/css")
    home = PortalBrowser(demo_app).signed_in("anna").get(f"/portal/{FIRM}/")
    assert "Logo van Dekker" in home.text
    cleared = demo_app.ok("portal", "brand", FIRM, "--clear-logo", "--json").json()
    assert cleared["logo"] is None and cleared["color"] == "#ffd700"


def test_brand_refuses_a_bad_logo_and_changes_nothing(demo_app: InProcess, tmp_path: Path) -> None:
    svg = tmp_path / "logo.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
    refused = demo_app.admin("portal", "brand", FIRM, "--logo", str(svg), "--color", "#123456",
                             "--language", "fr", "--json")  # fmt: skip
    assert refused.returncode == 6
    assert refused.json()["error"]["code"] == "logo_refused"
    assert "SVG" in refused.stderr and "Nothing was changed" in refused.stderr
    text_file = tmp_path / "logo.png"
    text_file.write_bytes(b"GIF89a not accepted")
    other = demo_app.admin("portal", "brand", FIRM, "--logo", str(text_file))
    assert other.returncode == 6 and "PNG, JPEG or WebP" in other.stderr
    big = tmp_path / "big.png"
    big.write_bytes(png() + b"\0" * 300_000)
    assert demo_app.admin("portal", "brand", FIRM, "--logo", str(big)).returncode == 6
    shown = demo_app.ok("portal", "brand", FIRM, "--json").json()
    assert shown["color"] is None and shown["language"] is None and shown["logo"] is None


def test_brand_refuses_a_bad_colour_and_an_unknown_environment(demo_app: InProcess) -> None:
    bad = demo_app.admin("portal", "brand", FIRM, "--color", "blue")
    assert bad.returncode == 2 and "#RRGGBB" in bad.output
    assert demo_app.admin("portal", "brand", FIRM, "--language", "de").returncode == 2
    assert demo_app.admin("portal", "brand", FIRM, "--time-zone", "Mars/Olympus").returncode == 2
    unknown = demo_app.admin("portal", "brand", "F99999", "--color", "#123456", "--json")
    assert unknown.returncode == 4
    assert unknown.json()["error"]["code"] == "unknown_environment"
    assert "Example" in demo_app.admin("portal", "brand", "--help").stdout


def test_the_logo_route_caches_and_revalidates(demo_app: InProcess, tmp_path: Path) -> None:
    client = demo_app.client()
    assert client.get(f"/portal/{FIRM}/logo").status_code == 404
    logo = tmp_path / "logo.png"
    logo.write_bytes(png())
    demo_app.ok("portal", "brand", FIRM, "--logo", str(logo))
    answer = client.get(f"/portal/{FIRM}/logo?v=1")
    assert answer.status_code == 200 and answer.content == png()
    assert answer.headers["content-type"] == "image/png"
    assert "max-age" in answer.headers["cache-control"]
    again = client.get(f"/portal/{FIRM}/logo", headers={"If-None-Match": answer.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert client.get("/portal/F99999/logo").status_code == 404


def test_the_text_on_the_firms_colour_is_always_readable() -> None:
    for red in range(0, 256, 51):
        for green in range(0, 256, 51):
            for blue in range(0, 256, 51):
                color = f"#{red:02x}{green:02x}{blue:02x}"
                assert contrast(color, text_color(color)) >= 4.5, color


def test_the_favicon_is_koppels_icon(demo_app: InProcess) -> None:
    answer = demo_app.client().get("/favicon.ico")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/x-icon"
    assert answer.content[:4] == b"\0\0\1\0"  # an ICO file's header
    assert '<link rel="icon" href="/favicon.ico"' in sign_in_page(demo_app)[1]


# --- sign-in and home


def test_the_sign_in_page_names_the_firm_and_offers_a_reset(demo_app: InProcess) -> None:
    _, text = sign_in_page(demo_app)
    assert f"Sign in to the portal of {FIRM_NAME}" in text.replace("&amp;", "&")
    assert "koppel-admin" not in text
    assert f'href="/portal/{FIRM}/forgot-password">Forgot your password?</a>' in text


def test_the_home_page_offers_the_agent_in_an_employees_words(demo_app: InProcess) -> None:
    browser = PortalBrowser(demo_app).signed_in("anna")
    page = browser.get(browser.path(), headers={"User-Agent": MAC, "Accept-Language": "nl"})
    text = page.text
    assert lang_of(text) == "nl"
    buttons = re.findall(r'id="download-(\w+)"', text)
    assert buttons == ["macos", "windows", "linux"]
    assert "Koppel downloaden voor macOS" in text and "Koppel downloaden voor Windows" in text
    # The command line and the hash only behind the disclosure.
    details = re.search(r'<details class="technical">(.*?)</details>', text, re.S)
    assert details and "pip install" in details.group(1)
    assert "Technische details" in details.group(1)
    outside = text.replace(details.group(0), "")
    assert "pip install" not in outside and "sha256" not in outside.lower()
    windows = browser.get(browser.path(), headers={"User-Agent": WINDOWS})
    assert re.findall(r'id="download-(\w+)"', windows.text)[0] == "windows"
    assert "Download Koppel for Windows" in windows.text


def test_error_pages_follow_the_switch_too(demo_app: InProcess) -> None:
    browser = PortalBrowser(demo_app)
    browser.post(browser.path("language"), {"language": "nl", "back": browser.path("sign-in")})
    missing = browser.get(browser.path("no-such-page"), headers={"Accept-Language": "en"})
    assert missing.status_code == 404 and lang_of(missing.text) == "nl"
    assert "<h1>Niet gevonden</h1>" in missing.text
    assert "Deze pagina bestaat niet op dit portaal." in missing.text


def test_the_switch_outside_a_portal_sets_the_cookie_only(demo_app: InProcess) -> None:
    client = demo_app.client()
    answer = client.post("/language", data={"language": "fr", "back": "/device"},
                         follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303 and answer.headers["location"] == "/device"
    assert "koppel_lang=fr" in answer.headers["set-cookie"]


def test_brand_as_the_administrator_runs_it(tmp_path: Path) -> None:
    # The real koppel-admin process: exit codes and --json as a script sees them.
    srv = make_server(tmp_path, process=True)
    srv.data_dir.mkdir(parents=True)
    srv.ok("db", "init")
    srv.ok("env", "create", "F30001", "--name", "Kantoor Zuid", "--kind", "firm")
    svg = tmp_path / "logo.svg"
    svg.write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    refused = srv.admin("portal", "brand", "F30001", "--logo", str(svg), "--json")
    assert refused.returncode == 6 and refused.json()["error"]["code"] == "logo_refused"
    logo = tmp_path / "logo.png"
    logo.write_bytes(png())
    done = srv.ok("portal", "brand", "F30001", "--logo", str(logo), "--color", "#0B5CAD", "--json")
    assert done.json()["text_color"] == "#ffffff" and done.json()["logo"]["type"] == "image/png"
    shown = srv.ok("portal", "brand", "F30001").stdout
    assert "#0b5cad" in shown and "image/png" in shown
