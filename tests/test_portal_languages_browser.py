"""The portal in Dutch and French in a real browser (Debian's chromium driven by Playwright,
as in test_portal_browser.py), and its accessibility checked by axe-core.

The browser asks for its language the way a user's browser does: the context's ``locale``
and its ``Accept-Language`` header. Six pages are rendered (sign-in, home, Communication
Center, My files, dossier, the administrators' checklist), in Dutch and French for their
texts and a known timestamp, and in English and Dutch, at desktop width and at 375 px,
for axe-core's rules.

axe-core (MPL-2.0, https://github.com/dequelabs/axe-core) is used only by these tests: it
is installed from npm outside the repository (``.ci/run`` does
``npm install --prefix ~/.cache/koppel-tests/axe axe-core@4``; the fixture below does the
same when it is missing) and injected into the page by Playwright; nothing of it ships.
Without npm or the registry the tests fail and say so: an accessibility check that
quietly skips is no check.

Set ``KOPPEL_SCREENSHOTS=docs/screenshots`` to refresh the Dutch screenshots in
``docs/screenshots/nl/``.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from harness import DEMO_PASSWORD, Server
from koppel.i18n import local_time

AXE_DIR = Path(os.environ.get("KOPPEL_AXE_DIR", Path.home() / ".cache" / "koppel-tests" / "axe"))
AXE_JS = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
AXE_PACKAGE = "axe-core@4"

PORTAL = "F10001"
# The pages of the issue, by the name of their screenshot: (path under /portal/F10001/).
PAGES = {
    "sign-in": "sign-in",
    "home": "",
    "communication-center": "environments/F10001",
    "my-files": "environments/C20001/files",
    "dossier": "environments/C20001/dossier",
    "admin-checklist": "admin",
}
# A text of each page that only a translation puts there (the pages' own templates);
# sign-in and home have only the shared frame: its skip link.
KNOWN = {
    "nl": {
        "sign-in": "Naar de inhoud",
        "home": "Naar de inhoud",
        "communication-center": "Instellingen downloaden",
        "my-files": "Mijn bestanden",
        "dossier": "Dossieritems zoeken",
        "admin-checklist": "Controlelijst van F10001",
    },
    "fr": {
        "sign-in": "Aller au contenu",
        "home": "Aller au contenu",
        "communication-center": "Télécharger les paramètres",
        "my-files": "Mes fichiers",
        "dossier": "Rechercher des éléments",
        "admin-checklist": "Liste de contrôle de F10001",
    },
}
ACCEPT = {"en": "en-GB,en;q=0.9", "nl": "nl-NL,nl;q=0.9", "fr": "fr-BE,fr;q=0.9"}

# A file of My files given a known creation time: 10:30 UTC on a summer day is 12:30 in
# Europe/Amsterdam (CEST), so a page that shows UTC cannot pass for local time.
KNOWN_CREATED = datetime(2026, 7, 1, 10, 30, tzinfo=UTC)
# Users without a time zone of their own see the environment's, by default this one.
SHOWN_TIME_ZONE = "Europe/Amsterdam"


@pytest.fixture(scope="session")
def axe_script() -> Path:
    """axe.min.js from npm: installed outside git when missing; a clear failure without npm."""
    if AXE_JS.exists():
        return AXE_JS
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail(
            "axe-core is needed for the accessibility tests and npm is missing: install "
            f"Node.js/npm (apt-get install npm), then npm install --prefix {AXE_DIR} {AXE_PACKAGE}"
        )
    done = subprocess.run(
        [npm, "install", "--prefix", str(AXE_DIR), "--no-audit", "--no-fund", AXE_PACKAGE],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0 or not AXE_JS.exists():
        pytest.fail(
            f"Could not install {AXE_PACKAGE} from npm into {AXE_DIR} (is the npm registry "
            f"reachable?): {done.stderr.strip()[-2000:]}"
        )
    return AXE_JS


def open_context(chromium: Browser, language: str, width: int = 1200) -> Page:
    """A fresh browser asking for ``language`` as a user's browser does. CSP is bypassed
    only so that Playwright can inject axe-core (the portal itself runs no script)."""
    context = chromium.new_context(
        locale={"en": "en-GB", "nl": "nl-NL", "fr": "fr-BE"}[language],
        extra_http_headers={"Accept-Language": ACCEPT[language]},
        viewport={"width": width, "height": 900},
        bypass_csp=True,
    )
    return context.new_page()


def sign_in(page: Page, server: Server) -> None:
    """Sign in as anna (an administrator of the demo firm) by the form's field names, so
    that the same steps work in every language."""
    page.goto(f"{server.url}/portal/{PORTAL}/sign-in")
    page.locator("input[name=login]").fill("anna")
    page.locator("input[name=password]").fill(DEMO_PASSWORD)
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url(re.compile(rf"/portal/{PORTAL}/$"))


def publish_known_file(server: Server, tmp_path: Path) -> str:
    """A ready file in anna's My files of C20001, created and ready at ``KNOWN_CREATED``
    (written into the server's SQLite database: the server's clock is the real one)."""
    report = tmp_path / "Jaarrapport 2026.pdf"
    report.write_bytes(os.urandom(20_000))
    server.ok("files", "publish", "C20001", "anna", str(report))
    stamp = KNOWN_CREATED.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    with sqlite3.connect(server.data_dir / "koppel.sqlite3") as db:
        changed = db.execute(
            "UPDATE output_files SET created_at = ?, ready_at = ? WHERE name = ?",
            (stamp, stamp, report.name),
        ).rowcount
    assert changed == 1
    return report.name


def visit(page: Page, server: Server, name: str) -> None:
    page.goto(f"{server.url}/portal/{PORTAL}/{PAGES[name]}")
    expect(page.locator("main")).to_be_visible()


def shot(page: Page, language: str, name: str) -> None:
    """The page into $KOPPEL_SCREENSHOTS/<language>/ when set (the README shows them)."""
    if folder := os.environ.get("KOPPEL_SCREENSHOTS"):
        target = Path(folder) / language
        target.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(target / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("language", ["nl", "fr"])
def test_the_six_pages_in_dutch_and_french(
    demo_server: Server, chromium: Browser, tmp_path: Path, language: str
) -> None:
    file_name = publish_known_file(demo_server, tmp_path)
    page = open_context(chromium, language)
    try:
        for name in PAGES:
            if name == "home":
                sign_in(page, demo_server)
            visit(page, demo_server, name)
            if name == "sign-in":
                page.context.clear_cookies()
            html_lang = page.locator("html").get_attribute("lang")
            assert html_lang == language, (name, html_lang)
            expect(page.locator("body")).to_contain_text(KNOWN[language][name])
            if language == "nl":
                shot(page, "nl", name)
        # The English words of these pages are gone: the checklist's and My files'.
        visit(page, demo_server, "my-files")
        body = page.locator("main").inner_text()
        assert "Request an analysis" not in body and "Download" not in body.split()
        row = page.get_by_role("row", name=re.compile(re.escape(file_name)))
        expected = local_time(KNOWN_CREATED, SHOWN_TIME_ZONE).strftime("%H:%M")
        expect(row).to_contain_text(expected)
        visit(page, demo_server, "admin-checklist")
        assert "How to fix" not in page.locator("main").inner_text()
    finally:
        page.context.close()


@pytest.mark.parametrize("language", ["nl", "fr"])
def test_the_language_switch_turns_the_pages_and_is_remembered(
    demo_server: Server, chromium: Browser, tmp_path: Path, language: str
) -> None:
    # An English browser: the user picks the language with the switch on the sign-in
    # page (a cookie), signs in, and the pages follow. Picked again once signed in, the
    # choice is saved with the account, so a new English browser signs in to it.
    file_name = publish_known_file(demo_server, tmp_path)
    names = {"nl": "Nederlands", "fr": "Français"}
    page = open_context(chromium, "en")
    try:
        page.goto(f"{demo_server.url}/portal/{PORTAL}/sign-in")
        assert page.locator("html").get_attribute("lang") == "en"
        page.get_by_role("button", name=names[language]).click()
        expect(page.locator("html")).to_have_attribute("lang", language)
        expect(page.locator("body")).to_contain_text(KNOWN[language]["sign-in"])
        sign_in(page, demo_server)
        for name in ("home", "communication-center", "my-files", "dossier", "admin-checklist"):
            visit(page, demo_server, name)
            assert page.locator("html").get_attribute("lang") == language, name
            expect(page.locator("body")).to_contain_text(KNOWN[language][name])
        visit(page, demo_server, "my-files")
        row = page.get_by_role("row", name=re.compile(re.escape(file_name)))
        expect(row).to_contain_text(local_time(KNOWN_CREATED, SHOWN_TIME_ZONE).strftime("%H:%M"))
        page.get_by_role("button", name=names[language]).click()
        expect(page.locator("html")).to_have_attribute("lang", language)
    finally:
        page.context.close()
    again = open_context(chromium, "en")
    try:
        sign_in(again, demo_server)
        assert again.locator("html").get_attribute("lang") == language
    finally:
        again.context.close()


def axe_violations(page: Page, script: Path) -> list[dict[str, Any]]:
    """axe-core's violations of every rule it runs by default (WCAG 2.x A/AA and best
    practices) on the page as shown."""
    page.add_script_tag(path=str(script))
    found: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return list(found["violations"])


def described(violations: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(node["target"]) for node in v["nodes"][:5])
        for v in violations
    )


@pytest.fixture
def signed_in_pages(
    demo_server: Server, chromium: Browser, tmp_path: Path
) -> Iterator[tuple[Server, Browser]]:
    publish_known_file(demo_server, tmp_path)
    yield demo_server, chromium


@pytest.mark.parametrize("language", ["en", "nl"])
@pytest.mark.parametrize("width", [1200, 375], ids=["desktop", "phone"])
def test_axe_finds_no_violations(
    signed_in_pages: tuple[Server, Browser], axe_script: Path, language: str, width: int
) -> None:
    server, chromium = signed_in_pages
    page = open_context(chromium, language, width)
    problems: dict[str, str] = {}
    try:
        for name in PAGES:
            if name == "home":
                sign_in(page, server)
            visit(page, server, name)
            violations = axe_violations(page, axe_script)
            if violations:
                problems[name] = described(violations)
            if name == "sign-in":
                page.context.clear_cookies()
            if language == "nl" and width == 375 and name == "home":
                shot(page, "nl", "home-phone")
    finally:
        page.context.close()
    assert not problems, "\n".join(f"{name}:\n{text}" for name, text in problems.items())
