"""The real agent gets a settings file that its user approves in a real browser, with
the second factor, without the agent ever seeing the password: the app served on a port
by a thread of the test process, the real ``koppel`` CLI and Debian's chromium driven by
Playwright."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from harness import BIN, DEMO_PASSWORD, Server, Workstation
from portal_client import Portal
from test_portal_browser import shot
from test_portal_totp import enrol

REFUSED = 7  # the agent's exit code for a refusal
_CODE = re.compile(r"enter the code ([A-Z]{4}-[A-Z]{4})")


def code_shown(agent: subprocess.Popen[str], seen: list[str]) -> str:
    """Read the agent's messages until it shows the code to enter."""
    assert agent.stderr is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = agent.stderr.readline()
        seen.append(line)
        if found := _CODE.search(line):
            return found.group(1)
    raise AssertionError("the agent showed no code: " + "".join(seen))


def test_settings_approved_in_the_browser_with_a_second_factor(
    demo_server: Server, workstation: Callable[..., Workstation], page: Page, tmp_path: Path
) -> None:
    srv, laptop = demo_server, workstation("Laptop Anna")
    with Portal(srv).signed_in("anna") as anna:
        phone, _codes = enrol(anna)

    # A script's password alone no longer opens an account with a second factor.
    scripted = laptop.koppel(
        "settings", "download", "--server", srv.url, "--env", "C20001", "--login", "anna",
        "--password-stdin", stdin=f"{DEMO_PASSWORD}\n",
    )  # fmt: skip
    assert scripted.returncode == REFUSED, scripted.output
    assert "approve in your browser" in scripted.stderr

    target = laptop.home / "C20001.koppel"
    agent = subprocess.Popen(
        [str(BIN / "koppel"), "settings", "download", "--server", srv.url, "--env", "C20001",
         "-o", str(target)],
        env=laptop.env, cwd=laptop.home, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    seen: list[str] = []
    try:
        code = code_shown(agent, seen)
        assert f"{srv.url}/device" in "".join(seen)

        page.goto(f"{srv.url}/device")
        shot(page, tmp_path, "device-code")
        page.get_by_label("Code shown by Koppel").fill(code.lower().replace("-", " "))
        page.get_by_label("Login").fill("anna")
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_role("heading", name="Two-step verification")).to_be_visible()
        page.get_by_label("Code", exact=True).fill(phone.code())
        page.get_by_role("button", name="Verify").click()
        expect(page.get_by_role("heading", name="Approve Koppel on Laptop Anna?")).to_be_visible()
        expect(
            page.get_by_text("the settings file of environment C20001 (Bakkerij Jansen)")
        ).to_be_visible()
        shot(page, tmp_path, "device-approve")
        page.get_by_role("button", name="Approve").click()
        expect(page.get_by_role("heading", name="Approved")).to_be_visible()

        out, err = agent.communicate(timeout=60)
    finally:
        if agent.poll() is None:
            agent.kill()
    assert agent.returncode == 0, "".join(seen) + err
    assert out.strip() == str(target)
    # The password never reached the agent: it is in none of its output.
    assert DEMO_PASSWORD not in "".join(seen) + out + err
    linked = laptop.ok("link", str(target), "--json").json()
    assert linked["linked"] == ["C20001"]
    audit = srv.ok("audit", "--actor", "anna", "--action", "device", "--json").json()["entries"]
    assert {e["action"] for e in audit} == {"device.sign_in", "device.approve"}


def test_denied_in_the_browser(
    demo_server: Server, workstation: Callable[..., Workstation], page: Page
) -> None:
    srv, laptop = demo_server, workstation("Desk")
    agent = subprocess.Popen(
        [str(BIN / "koppel"), "installation", "download", "--server", srv.url, "--env",
         "F10001", "--no-browser", "--json"],
        env=laptop.env, cwd=laptop.home, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    seen: list[str] = []
    try:
        code = code_shown(agent, seen)
        page.goto(f"{srv.url}/device?user_code={code}")
        expect(page.get_by_label("Code shown by Koppel")).to_have_value(code)
        page.get_by_label("Login").fill("bram")
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Continue").click()
        page.get_by_role("button", name="Deny").click()
        expect(page.get_by_role("heading", name="Not approved")).to_be_visible()
        out, err = agent.communicate(timeout=60)
    finally:
        if agent.poll() is None:
            agent.kill()
    assert agent.returncode == REFUSED, err
    assert "Not approved: The request was denied in the browser." in err
    assert json.loads(out)["error"]["message"].startswith("Not approved")
    assert list(laptop.home.glob("*.whl")) == []
