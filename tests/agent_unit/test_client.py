"""The HTTP client against a real local socket: headers sent, errors mapped to exceptions."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from certificates import self_signed
from koppel.agent.api import AgentClient, server_base
from koppel.agent.api._http import attachment_name, tls_context
from koppel.agent.errors import AgentError, ApiError, ServerUnreachable
from koppel.agent.exit_codes import ExitCode
from koppel.agent.version import AGENT_UPDATE_TEXT, VERSION

from .live_server import LiveServer

Reply = tuple[int, bytes]


@pytest.fixture
def raw_server() -> Iterator[tuple[str, dict[str, Any]]]:
    """A server answering GET /api/v1/info with whatever ``control['reply']`` says."""
    yield from _serve(None)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """``raw_server`` over https, with a self-signed certificate (``control['cert']``)."""
    cert, key = self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    for url, control in _serve(context):
        control["cert"] = cert
        yield url, control


def _serve(tls: ssl.SSLContext | None) -> Iterator[tuple[str, dict[str, Any]]]:
    control: dict[str, Any] = {"reply": (200, b"{}"), "headers": None}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            control["headers"] = dict(self.headers)
            status, body = control["reply"]
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    scheme = "https" if tls else "http"
    yield f"{scheme}://127.0.0.1:{httpd.server_address[1]}", control
    httpd.shutdown()
    httpd.server_close()


def test_every_request_states_update_and_agent(raw_server: tuple[str, dict[str, Any]]) -> None:
    url, control = raw_server
    control["reply"] = (200, b'{"server_version": "2026.2.0", "supported_updates": ["2026.2"]}')
    with AgentClient(url + "/api/v1/") as client:
        info = client.info()
    assert info.supported_updates == ["2026.2"]
    assert control["headers"]["Koppel-Update"] == AGENT_UPDATE_TEXT
    assert control["headers"]["User-Agent"] == f"koppel-agent/{VERSION}"


@pytest.mark.parametrize(
    ("status", "code", "exit_code"),
    [
        (401, "token_revoked", ExitCode.TOKEN_REVOKED),
        (409, "update_mismatch", ExitCode.UPDATE_MISMATCH),
        (403, "connector_blocked", ExitCode.REFUSED),
        (403, "not_authorized", ExitCode.REFUSED),
        (403, "account_disabled", ExitCode.REFUSED),
        (409, "enrollment_used", ExitCode.INVALID_SETTINGS),
        (410, "enrollment_expired", ExitCode.INVALID_SETTINGS),
        (400, "settings_tampered", ExitCode.INVALID_SETTINGS),
        (400, "validation_error", ExitCode.ERROR),
        (418, "code_of_a_newer_server", ExitCode.ERROR),
    ],
)
def test_error_body_becomes_api_error(
    raw_server: tuple[str, dict[str, Any]], status: int, code: str, exit_code: ExitCode
) -> None:
    url, control = raw_server
    body = json.dumps(
        {
            "code": code,
            "message": "Say what to do.",
            "environment": "C20001",
            "details": [{"code": code, "message": "m", "environment": "C20001"}],
        }
    )
    control["reply"] = (status, body.encode())
    with AgentClient(url) as client, pytest.raises(ApiError) as caught:
        client.info()
    error = caught.value
    assert (error.code, error.message, error.environment, error.status) == (
        code,
        "Say what to do.",
        "C20001",
        status,
    )
    assert error.details[0].environment == "C20001"
    assert error.exit_code == exit_code


def test_answer_without_error_body(raw_server: tuple[str, dict[str, Any]]) -> None:
    url, control = raw_server
    control["reply"] = (502, b"<html>Bad gateway</html>")
    with AgentClient(url) as client, pytest.raises(ApiError) as caught:
        client.info()
    assert caught.value.code == "internal_error" and "HTTP 502" in caught.value.message


INFO = b'{"server_version": "2026.2.0", "supported_updates": ["2026.2"]}'


def test_https_verifies_the_certificate_and_trusts_koppel_ca_bundle(
    tls_server: tuple[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url, control = tls_server
    control["reply"] = (200, INFO)
    monkeypatch.delenv("KOPPEL_CA_BUNDLE", raising=False)
    with AgentClient(url) as client, pytest.raises(ServerUnreachable) as refused:
        client.info()
    assert "certificate" in refused.value.message.lower()
    assert control["headers"] is None  # no request got through

    monkeypatch.setenv("KOPPEL_CA_BUNDLE", str(control["cert"]))
    with AgentClient(url) as client:
        assert client.info().supported_updates == ["2026.2"]

    monkeypatch.setenv("KOPPEL_CA_BUNDLE", str(tmp_path / "missing.pem"))
    with pytest.raises(AgentError, match=r"KOPPEL_CA_BUNDLE=.*missing\.pem"):
        AgentClient(url)


def test_plain_http_trusts_no_certificate_at_all(
    tls_server: tuple[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # An http:// client skips loading the CA store; should it ever meet TLS it refuses,
    # even a certificate that KOPPEL_CA_BUNDLE would trust.
    url, control = tls_server
    monkeypatch.setenv("KOPPEL_CA_BUNDLE", str(control["cert"]))
    context = tls_context(url.replace("https://", "http://"))
    with (
        socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1]))) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        context.wrap_socket(raw, server_hostname="127.0.0.1")


def test_closed_port_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with AgentClient(f"http://127.0.0.1:{port}") as client, pytest.raises(ServerUnreachable) as e:
        client.info()
    assert e.value.exit_code == ExitCode.UNREACHABLE
    assert e.value.url == f"http://127.0.0.1:{port}"
    assert "koppel-admin check" in e.value.message


def test_bearer_token_and_environment_routes(server: LiveServer) -> None:
    with AgentClient(server.url) as client, pytest.raises(ApiError) as caught:
        client.me("C20001", "kplt_unknown")
    assert caught.value.code == "token_invalid"
    assert server.requests[-1].headers["Authorization"] == "Bearer kplt_unknown"
    assert server.requests[-1].path == "/api/v1/environments/C20001/me"


def test_server_base_and_attachment_names() -> None:
    assert server_base("https://k.example.com/api/v1/") == "https://k.example.com"
    assert attachment_name('attachment; filename="../../koppel-2026.2.0.whl"') == (
        "koppel-2026.2.0.whl"
    )
    assert attachment_name("attachment; filename*=UTF-8''k%C3%B6ppel.whl") == "köppel.whl"
    assert attachment_name("attachment") is None
