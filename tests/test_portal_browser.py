"""The portal in a real browser: Debian's chromium, headless, driven by Playwright,
against the app served on a port by a thread of the test process and the real ``koppel``
agent.

Set ``KOPPEL_SCREENSHOTS=docs/screenshots`` to refresh the README's screenshots.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from harness import DEMO_PASSWORD, Server, Workstation

TOKEN_REVOKED = 5  # the agent's exit code


def shot(page: Page, tmp_path: Path, name: str) -> None:
    """Screenshot the page (also into $KOPPEL_SCREENSHOTS when set); it must not be empty."""
    target = tmp_path / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 5_000
    if folder := os.environ.get("KOPPEL_SCREENSHOTS"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def sign_in(page: Page, server: Server, login: str = "anna", password: str = DEMO_PASSWORD,
            portal: str = "F10001") -> None:  # fmt: skip
    """Fill in and submit the sign-in form with the keyboard and the labels."""
    page.goto(f"{server.url}/portal/{portal}/")
    page.get_by_label("Login").fill(login)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_lands_on_the_home_page(demo_server: Server, page: Page, tmp_path: Path) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{demo_server.url}/portal/F10001/")
    expect(page).to_have_url(re.compile(r"/portal/F10001/sign-in"))
    shot(page, tmp_path, "sign-in")
    sign_in(page, demo_server)
    expect(page.get_by_role("heading", name="Welcome, Anna de Boer")).to_be_visible()
    table = page.get_by_role("table", name="Environments")
    for code in ("F10001", "C20001", "C20002", "C20003"):
        expect(table.get_by_role("link", name=re.compile(code))).to_be_visible()
    expect(table).to_contain_text("2026.2")
    expect(table).to_contain_text("Ready")
    shot(page, tmp_path, "home")
    # Nothing is loaded from anywhere but the portal itself.
    assert requested and all(url.startswith(demo_server.url) for url in requested), requested
    # Sign out ends it: the home page asks to sign in again.
    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{demo_server.url}/portal/F10001/")
    expect(page.get_by_role("heading", name=re.compile("Sign in"))).to_be_visible()


def test_keyboard_only_sign_in(demo_server: Server, page: Page) -> None:
    page.goto(f"{demo_server.url}/portal/F10001/sign-in")
    # The login field has the focus; Tab reaches the password; Enter submits.
    expect(page.get_by_label("Login")).to_be_focused()
    page.keyboard.type("anna")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Welcome, Anna de Boer")).to_be_visible()


def test_failed_sign_ins_then_lockout(demo_server: Server, page: Page, tmp_path: Path) -> None:
    for _ in range(5):
        sign_in(page, demo_server, password="wrong")
        expect(page.get_by_role("alert")).to_contain_text("The login or password is wrong")
    shot(page, tmp_path, "sign-in-failed")
    # Now even the right password is refused, with the way out named.
    sign_in(page, demo_server)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("locked")
    expect(alert).to_contain_text("koppel-admin accounts unlock anna")
    shot(page, tmp_path, "sign-in-locked")
    # bram is not affected by anna's lockout.
    page.context.clear_cookies()
    sign_in(page, demo_server, login="bram")
    expect(page.get_by_role("heading", name=re.compile("Welcome"))).to_be_visible()


def test_phone_width_has_no_horizontal_scroll(
    demo_server: Server, page: Page, tmp_path: Path
) -> None:
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page, demo_server)
    expect(page.get_by_role("heading", name=re.compile("Welcome"))).to_be_visible()
    for path in ("", "environments/C20001", "devices", "environments/C20001/dossier"):
        page.goto(f"{demo_server.url}/portal/F10001/{path}")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, path
    page.goto(f"{demo_server.url}/portal/F10001/")
    shot(page, tmp_path, "home-phone")


def test_administrator_checklist_goes_from_missing_to_done(
    server: Server, page: Page, tmp_path: Path
) -> None:
    from test_portal_admin import PASSWORD, partial_firm

    server = server
    partial_firm(server)
    sign_in(page, server, login="boss", password=PASSWORD, portal="F30001")
    page.get_by_role("link", name="Administration").click()
    checklist = page.get_by_role("table", name="Checklist of F30001")
    expect(checklist).to_contain_text("✗ Missing")
    shot(page, tmp_path, "admin-checklist-missing")
    steps = page.locator("form[action*='/steps/'] button")
    clicks = 0
    while steps.count():
        steps.first.click()
        expect(page.get_by_role("status")).to_be_visible()
        clicks += 1
        assert clicks < 20, "a button did not complete its step"
    for code in ("F30001", "C30001"):
        table = page.get_by_role("table", name=f"Checklist of {code}")
        expect(table).to_contain_text("✓ Done")
        expect(table).not_to_contain_text("✗ Missing")
    assert server.admin("check", "F30001", "C30001").returncode == 0
    shot(page, tmp_path, "admin-checklist-done")


def download(page: Page, link_name: str, folder: Path) -> Path:
    """Click a download button; the file as the browser saved it."""
    with page.expect_download() as started:
        page.get_by_role("link", name=link_name, exact=True).click()
    saved = folder / started.value.suggested_filename
    started.value.save_as(saved)
    return saved


def test_download_settings_link_with_the_agent_then_revoke_the_device(
    demo_server: Server, page: Page, workstation: Callable[..., Workstation], tmp_path: Path
) -> None:
    ws = workstation("laptop")
    sign_in(page, demo_server)
    page.get_by_role("link", name=re.compile("C20001")).first.click()
    expect(page.get_by_role("heading", name=re.compile("Bakkerij Jansen"))).to_be_visible()
    shot(page, tmp_path, "communication-center")
    settings = download(page, "Download settings", ws.home)
    assert settings.name == "C20001.koppel"
    assert ws.ok("link", str(settings), "--json").json()["linked"] == ["C20001"]

    # The bundle from the firm's page links the other clients in one step.
    page.get_by_role("link", name="Home").first.click()
    page.get_by_role("link", name=re.compile("F10001")).first.click()
    bundle = download(page, "Download settings for all my client environments", ws.home)
    assert bundle.name == "F10001-clients.koppel"
    ws.ok("link", str(bundle))
    codes = sorted(e["code"] for e in ws.ok("envs", "--json").json())
    assert codes == ["C20001", "C20002", "C20003"]

    # My devices lists the workstation; revoking C20001 there cuts the agent off.
    page.get_by_role("link", name="My devices").click()
    expect(page.get_by_role("heading", name="laptop")).to_be_visible()
    shot(page, tmp_path, "my-devices")
    page.get_by_role("button", name="Revoke access of laptop to C20001").click()
    expect(page.get_by_role("status")).to_be_visible()
    refused = ws.koppel("info", "C20001")
    assert refused.returncode == TOKEN_REVOKED, refused.output
    assert "revoked" in refused.output
    assert ws.koppel("info", "C20002").returncode == 0


def test_two_step_verification_with_the_qr_code(
    demo_server: Server, page: Page, tmp_path: Path
) -> None:
    import time

    from test_portal_totp import rfc6238

    sign_in(page, demo_server)
    page.get_by_role("link", name="Security").click()
    page.get_by_role("button", name="Turn on two-step verification").click()
    expect(page.locator(".qr-code svg")).to_be_visible()
    shot(page, tmp_path, "security-two-step")
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    page.get_by_label("Code from the app").fill(rfc6238(secret, time.time()))
    page.get_by_role("button", name="Confirm and turn on").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, demo_server)
    # The password alone is not enough now: the code page comes first.
    expect(page.get_by_label("Code")).to_be_visible()
    page.goto(f"{demo_server.url}/portal/F10001/devices")
    expect(page).to_have_url(re.compile("/second-factor"))
    # A code of the next 30-second step (the current one was used to confirm).
    page.get_by_label("Code").fill(rfc6238(secret, time.time() + 30))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="My devices")).to_be_visible()


def test_upload_and_download_in_the_dossier(
    demo_server: Server, page: Page, tmp_path: Path
) -> None:
    import hashlib

    demo_server.ok("connector", "unblock", "C20001", "temporary-office-access")
    letter = tmp_path / "letter to the bakery.pdf"
    letter.write_bytes(os.urandom(3 * 1024 * 1024))
    sign_in(page, demo_server)
    page.goto(f"{demo_server.url}/portal/F10001/environments/C20001/dossier")
    form = page.get_by_role("region", name="File a new item")
    form.get_by_label("Subject").fill("Letter about the annual accounts")
    form.get_by_label("Type").select_option("Correspondence")
    form.get_by_label("Destination").select_option("D0001")
    form.get_by_label("File (at most 75.0 MB)").set_input_files(str(letter))
    form.get_by_role("button", name="Upload").click()
    expect(
        page.get_by_role("heading", name=re.compile("Letter about the annual accounts"))
    ).to_be_visible()
    expect(page.get_by_role("status")).to_be_visible()
    edit = page.get_by_role("link", name=f"Edit {letter.name} on my computer")
    assert (edit.get_attribute("href") or "").startswith("koppel://edit?")
    shot(page, tmp_path, "dossier-item")

    with page.expect_download() as started:
        page.get_by_role("link", name=f"Download {letter.name}").click()
    saved = tmp_path / "downloaded.pdf"
    started.value.save_as(saved)
    assert started.value.suggested_filename == letter.name
    assert (
        hashlib.sha256(saved.read_bytes()).digest() == hashlib.sha256(letter.read_bytes()).digest()
    )

    page.get_by_role("link", name="Dossier of C20001").click()
    expect(page.get_by_role("table", name=re.compile("Items"))).to_contain_text(
        "Letter about the annual accounts"
    )
    shot(page, tmp_path, "dossier")


def test_my_files_page(demo_server: Server, page: Page, tmp_path: Path) -> None:
    report = tmp_path / "Annual report 2026.pdf"
    report.write_bytes(os.urandom(200_000))
    demo_server.ok("files", "publish", "C20001", "anna", str(report))
    sign_in(page, demo_server)
    page.goto(f"{demo_server.url}/portal/F10001/environments/C20001/files")
    expect(page.get_by_text("Annual report 2026.pdf").first).to_be_visible()
    shot(page, tmp_path, "my-files")
