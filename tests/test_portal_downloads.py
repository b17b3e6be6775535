"""The Communication Center page: installation, settings and the bundle downloaded from
the portal, and linked with the real agent. The app in process; served on a port where
the real ``koppel`` CLI links what was downloaded."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import httpx

from app_client import InProcess
from harness import Server, Workstation
from portal_client import Portal, text_of

Ws = Callable[..., Workstation]
ATTACHMENT = re.compile(r'^attachment; filename="([^"]+)"$')


def saved(ws: Workstation, response: httpx.Response) -> Path:
    """Write a download where a browser would, under the name the server gave it."""
    assert response.status_code == 200, text_of(response.text)
    found = ATTACHMENT.match(response.headers["content-disposition"])
    assert found, response.headers["content-disposition"]
    target = ws.home / found.group(1)
    target.write_bytes(response.content)
    return target


def linked(ws: Workstation) -> list[str]:
    return sorted(env["code"] for env in ws.ok("envs", "--json").json())


def test_settings_from_the_portal_link_with_the_agent(demo_server: Server, workstation: Ws) -> None:
    ws = workstation("laptop")
    with Portal(demo_server).signed_in("anna") as anna:
        page = anna.get(anna.path("environments", "C20001"))
        assert page.status_code == 200
        text = text_of(page.text)
        assert "Bakkerij Jansen" in text and "C20001" in text and "2026.2" in text
        assert "Download settings" in text and "koppel link C20001.koppel" in text
        assert 'href="/portal/F10001/environments/C20001/settings"' in page.text

        download = anna.get(anna.path("environments", "C20001", "settings"))
        assert download.headers["cache-control"] == "no-store"
        assert download.headers["content-type"].startswith("application/json")
        settings = saved(ws, download)
        assert settings.name == "C20001.koppel"
        document = json.loads(settings.read_text())
        assert document["environment"]["code"] == "C20001" and document["user"]["login"] == "anna"

    result = ws.ok("link", str(settings), "--json").json()
    assert result["linked"] == ["C20001"]
    assert linked(ws) == ["C20001"]
    # The enrollment code is single use: the same file cannot link a second time.
    assert ws.koppel("link", str(settings)).returncode != 0
    audit = demo_server.ok("audit", "--env", "C20001", "--json").json()["entries"]
    assert any(e["action"] == "settings.save" and e["actor"] == "anna" for e in audit)


def test_the_bundle_links_every_client_at_once(demo_server: Server, workstation: Ws) -> None:
    ws = workstation("laptop")
    with Portal(demo_server).signed_in("anna") as anna:
        firm = text_of(anna.get(anna.path("environments", "F10001")).text)
        assert "Download settings for all my client environments" in firm
        assert "koppel link F10001-clients.koppel" in firm
        download = anna.get(anna.path("bundle"))
        assert download.headers["cache-control"] == "no-store"
        bundle = saved(ws, download)
        assert bundle.name == "F10001-clients.koppel"
        # A client's page offers no bundle: it belongs to the firm's page.
        client = text_of(anna.get(anna.path("environments", "C20001")).text)
        assert "all my client environments" not in client
    data = json.loads(bundle.read_text())
    assert data["skipped"] == [] and len(data["settings"]) == 3

    result = ws.ok("link", str(bundle), "--json").json()
    assert sorted(result["linked"]) == ["C20001", "C20002", "C20003"]
    assert linked(ws) == ["C20001", "C20002", "C20003"]


def test_installation_is_the_agent_wheel_of_the_update(demo_app: InProcess) -> None:
    with Portal(demo_app).signed_in("anna") as anna:
        page = text_of(anna.get(anna.path("environments", "F10001")).text)
        assert "Download installation" in page and "pip install koppel-2026.2." in page
        download = anna.get(anna.path("environments", "F10001", "installation"))
        assert download.status_code == 200, text_of(download.text)
        assert download.headers["koppel-agent-update"] == "2026.2"
        name = ATTACHMENT.match(download.headers["content-disposition"])
        assert name and re.fullmatch(r"koppel-2026\.2\.\d+-py3-none-any\.whl", name.group(1))
    with zipfile.ZipFile(io.BytesIO(download.content)) as wheel:
        metadata_name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = wheel.read(metadata_name).decode()
        assert "koppel/agent/cli/__init__.py" in wheel.namelist()
    version = re.search(r"^Version: (\S+)$", metadata, re.M)
    assert version and version.group(1).startswith("2026.2."), metadata


def test_client_pages_explain_a_missing_installation_function(demo_app: InProcess) -> None:
    # The demo authorizes the firm's employees in clients for My files and Save settings
    # only: the agent comes from the firm's page, and the client's page says so.
    with Portal(demo_app).signed_in("anna") as anna:
        page = anna.get(anna.path("environments", "C20003"))
        text = text_of(page.text)
        assert "Download installation is not available" in text
        assert "koppel-admin users authorize C20003 anna" in text
        assert 'href="/portal/F10001/environments/F10001"' in page.text
        assert "/environments/C20003/installation" not in page.text
        refused = anna.get(anna.path("environments", "C20003", "installation"))
        assert refused.status_code == 403
        assert "Save installation" in text_of(refused.text)


def test_a_blocked_connector_takes_the_settings_button_away(demo_app: InProcess) -> None:
    srv = demo_app
    srv.ok("connector", "block", "C20002", "communication-center")
    with Portal(srv).signed_in("anna") as anna:
        page = anna.get(anna.path("environments", "C20002"))
        text = text_of(page.text)
        assert "/environments/C20002/settings" not in page.text
        assert "Download settings is not available" in text
        assert "koppel-admin connector unblock C20002 communication-center" in text

        refused = anna.get(anna.path("environments", "C20002", "settings"))
        assert refused.status_code == 403
        assert "text/html" in refused.headers["content-type"]
        assert "koppel-admin connector unblock C20002" in text_of(refused.text)

        firm = text_of(anna.get(anna.path("environments", "F10001")).text)
        assert "1 client is not in the bundle" in firm and "C20002 · Garage Visser" in firm
        bundle = anna.get(anna.path("bundle"))
        data = bundle.json()
        assert sorted(s["environment"]["code"] for s in data["settings"]) == ["C20001", "C20003"]
        assert [s["environment"] for s in data["skipped"]] == ["C20002"]
        assert data["skipped"][0]["code"] == "connector_blocked"

    srv.ok("connector", "unblock", "C20002", "communication-center")
    with Portal(srv).signed_in("anna") as anna:
        page = anna.get(anna.path("environments", "C20002"))
        assert "/environments/C20002/settings" in page.text


def test_without_save_settings_the_button_is_explained(demo_app: InProcess) -> None:
    srv = demo_app
    srv.ok("users", "unauthorize", "C20001", "anna", "--function", "Save settings")
    with Portal(srv).signed_in("anna") as anna:
        page = anna.get(anna.path("environments", "C20001"))
        text = text_of(page.text)
        assert "/environments/C20001/settings" not in page.text
        assert "You are not authorized for General/User/Communication Center/Save settings" in text
        assert "koppel-admin users authorize C20001 anna" in text
        refused = anna.get(anna.path("environments", "C20001", "settings"))
        assert refused.status_code == 403 and "Not authorized" in refused.text
        # The bundle leaves out the clients where one may not save settings, and says so.
        data = anna.get(anna.path("bundle")).json()
        assert sorted(s["environment"]["code"] for s in data["settings"]) == ["C20002", "C20003"]
        assert [(s["environment"], s["code"]) for s in data["skipped"]] == [
            ("C20001", "not_authorized")
        ]


def test_a_missing_main_site_is_explained(demo_app: InProcess) -> None:
    srv = demo_app
    srv.ok("env", "create", "C20009", "--name", "Nieuw", "--kind", "client", "--firm", "F10001")
    srv.ok("env", "set-api-url", "C20009", srv.url)
    srv.ok("users", "add", "C20009", "anna")
    srv.ok("users", "authorize", "C20009", "anna", "--function", "Save settings")
    srv.ok("connector", "unblock", "C20009", "communication-center")
    with Portal(srv).signed_in("anna") as anna:  # not (yet) its administrator: no command
        page = anna.get(anna.path("environments", "C20009"))
        assert "ask its administrator to record it." in text_of(page.text)
        assert "koppel-admin" not in text_of(page.text)
    srv.ok("users", "authorize", "C20009", "anna", "--function",
           "General/Management/App connector")  # fmt: skip
    with Portal(srv).signed_in("anna") as anna:
        page = anna.get(anna.path("environments", "C20009"))
        text = text_of(page.text)
        assert "/environments/C20009/settings" not in page.text
        assert "No main site is recorded for C20009" in text
        assert "koppel-admin env set-main-site C20009" in text
        refused = anna.get(anna.path("environments", "C20009", "settings"))
        assert refused.status_code == 409 and "set-main-site C20009" in text_of(refused.text)
        skipped = anna.get(anna.path("bundle")).json()["skipped"]
        assert [(s["environment"], s["code"]) for s in skipped] == [("C20009", "main_site_missing")]


def test_only_members_download_and_only_when_signed_in(demo_app: InProcess) -> None:
    srv = demo_app
    srv.ok("accounts", "create", "carla", "--name", "Carla", "--password", "carla-pass-1")
    srv.ok("users", "add", "F10001", "carla")
    srv.ok("portal", "grant", "F10001", "carla")
    with Portal(srv).signed_in("carla", "carla-pass-1") as carla:
        for path in ("", "settings", "installation"):
            refused = carla.get(carla.path("environments", "C20001", path))
            assert refused.status_code == 404, path
            assert "C20001 is not one of your environments" in text_of(refused.text)
        # Another firm's environment is not reachable either, even for anna.
    srv.ok("env", "create", "F10002", "--name", "Other firm", "--kind", "firm")
    with Portal(srv).signed_in("anna") as anna:
        assert anna.get(anna.path("environments", "F10002", "settings")).status_code == 404

    with Portal(srv) as stranger:
        for path in (
            stranger.path("environments", "C20001", "settings"),
            stranger.path("environments", "F10001", "installation"),
            stranger.path("bundle"),
        ):
            answer = stranger.get(path, follow_redirects=False)
            assert answer.status_code == 303, path
            assert answer.headers["location"].startswith("/portal/F10001/sign-in?next=")
            assert "koppel" not in answer.headers.get("content-disposition", "")
    # None of the refusals issued an enrollment code.
    audit = srv.ok("audit", "--env", "C20001", "--json").json()["entries"]
    assert not any(e["action"] == "settings.save" for e in audit)
