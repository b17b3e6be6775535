"""Corporate proxies: the real ``koppel`` agent sends its requests (link, submit,
download, doctor) through a real HTTP proxy on loopback (proxy.py, recording each request
it forwards) when ``HTTP_PROXY`` names it, goes direct for the hosts ``NO_PROXY`` names,
and ``koppel doctor`` names the proxy in use. The operating system's proxy settings
(Windows registry, macOS) are unit-tested in agent_unit/test_proxy_choice.py."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness import Server, Workstation
from proxy_support import LocalProxy, local_proxy, without_proxy_variables

Ws = Callable[..., Workstation]
UNREACHABLE = 4


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[LocalProxy]:
    with local_proxy(tmp_path / "proxy") as running:
        yield running


def _through(ws: Workstation, proxy_url: str, **more: str) -> None:
    ws.env = {**without_proxy_variables(ws.env), "HTTP_PROXY": proxy_url, **more}


def test_link_submit_and_download_go_through_the_proxy(
    demo_server: Server, workstation: Ws, proxy: LocalProxy, tmp_path: Path
) -> None:
    srv = demo_server
    ws = workstation("laptop", KOPPEL_DOWNLOADS_DIR=str(tmp_path / "downloads"))
    _through(ws, proxy.url)
    api = f"{srv.url}/api/v1"

    ws.ok("link", str(ws.save_settings(srv, "F10001", "anna")))
    assert f"POST {api}/links" in proxy.requests()

    source = tmp_path / "Factuur 12.pdf"
    # Above 1 MiB: created, then sent with PATCH (a smaller file goes in its creation).
    source.write_bytes(b"%PDF-1.7 invoice\n" * 70000)
    ws.ok("submit", str(source), "--to", "D0001", "--type", "Invoice", "--env", "F10001")
    sent = proxy.requests()
    assert f"POST {api}/environments/F10001/uploads" in sent
    assert any(line.startswith(f"PATCH {api}/environments/F10001/uploads/") for line in sent)
    assert f"POST {api}/environments/F10001/items" in sent

    content = b"annual report\n" * 4000
    published_from = tmp_path / "Jaarrekening.pdf"
    published_from.write_bytes(content)
    published = srv.ok("files", "publish", "F10001", "anna", str(published_from), "--json").json()
    target = tmp_path / "got.pdf"
    ws.ok("files", "get", str(published["id"]), "--env", "F10001", "-o", str(target))
    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(content).digest()
    assert any(
        line.startswith(f"GET {api}/environments/F10001/files/{published['id']}")
        for line in proxy.requests()
    )

    doctor = ws.ok("doctor", "--json").json()
    assert doctor["proxies"] == [
        {
            "server": srv.url,
            "proxy": proxy.url,
            "source": "HTTP_PROXY",
            "bypassed_by": None,
            "unusable": None,
        }
    ]
    assert f"POST {api}/status" in proxy.requests()
    said = ws.ok("doctor").stderr
    assert f"Network: requests go through the proxy {proxy.url} (from HTTP_PROXY)." in said


def test_no_proxy_bypasses_the_proxy(
    demo_server: Server, workstation: Ws, proxy: LocalProxy
) -> None:
    ws = workstation("laptop")
    _through(ws, proxy.url, NO_PROXY="localhost,127.0.0.1")
    ws.ok("link", str(ws.save_settings(demo_server, "F10001", "anna")))
    doctor = ws.ok("doctor", "--json").json()
    assert doctor["ok"]
    assert doctor["proxies"][0]["proxy"] is None
    assert doctor["proxies"][0]["bypassed_by"] == "NO_PROXY"
    assert "the proxy is skipped for this server by NO_PROXY" in ws.ok("doctor").stderr
    source = ws.home / "Factuur 13.pdf"
    source.write_bytes(b"%PDF-1.7 invoice\n" * 100)
    ws.ok("submit", str(source), "--to", "D0001", "--type", "Invoice", "--env", "F10001")
    assert proxy.requests() == []


def test_a_proxy_that_does_not_answer_makes_the_server_unreachable(
    demo_server: Server, workstation: Ws, proxy: LocalProxy
) -> None:
    # The control: the requests really depend on the proxy named (a closed port here).
    ws = workstation("laptop")
    ws.ok("link", str(ws.save_settings(demo_server, "F10001", "anna")))
    _through(ws, "http://127.0.0.1:9")
    doctor = ws.koppel("doctor", "--json")
    assert doctor.returncode == 3, doctor.output
    assert doctor.json()["environments"][0]["state"] == "unreachable"
    # The proxy is named as what may fail, not only the server's address.
    info = ws.koppel("info", "F10001")
    assert info.returncode == 4, info.output
    assert "through the proxy http://127.0.0.1:9" in info.stderr, info.output
    assert "Check that proxy setting with your IT department" in info.stderr


def test_doctor_says_when_no_proxy_is_set(workstation: Ws) -> None:
    ws = workstation("laptop")
    ws.env = without_proxy_variables(ws.env)
    assert "Network: requests go directly (no proxy is set)." in ws.ok("doctor").stderr
    assert ws.ok("doctor", "--json").json()["proxies"] == [
        {
            "server": "https://server.invalid",
            "proxy": None,
            "source": None,
            "bypassed_by": None,
            "unusable": None,
        }
    ]
