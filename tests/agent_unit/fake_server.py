"""A tiny stand-in for koppel-server on 127.0.0.1, speaking the agent API contract.

It keeps the agent tests real (actual HTTP, actual sockets) without the server package.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from koppel.protocol.api import MAX_STATUS_QUERIES

UNKNOWN_TOKEN = (
    "This workstation's link to {code} is not valid on this server: its token is unknown "
    "here, or {code} was removed."
)


@dataclass
class FakeEnv:
    code: str
    update: str = "2026.2"
    name: str = ""
    kind: str = "client"
    connector_blocked: bool = False
    missing_functions: list[str] = field(default_factory=list)


@dataclass
class FakeToken:
    environment: str
    workstation: dict[str, str]
    login: str
    revoked: str = ""  # the reason, when revoked


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class FakeServer:
    """The server state and a background HTTP server serving it."""

    def __init__(self) -> None:
        self.envs: dict[str, FakeEnv] = {}
        self.tokens: dict[str, FakeToken] = {}
        self.used_codes: set[str] = set()
        self.requests: list[Recorded] = []
        self.password = "secret"
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def add(self, code: str, **kwargs: Any) -> FakeEnv:
        env = FakeEnv(code, name=kwargs.pop("name", f"Environment {code}"), **kwargs)
        self.envs[code] = env
        return env

    def settings(self, code: str, login: str = "anna", update: str | None = None) -> dict[str, Any]:
        """A settings document as "Save settings" would issue it (unsigned here)."""
        env = self.envs[code]
        now = datetime.now(UTC)
        return {
            "format": "koppel-settings/1",
            "environment": {
                "code": code,
                "name": env.name,
                "kind": env.kind,
                "update": update or env.update,
                "api_url": self.url,
                "main_site_url": "https://portal.example.com",
            },
            "user": {"login": login, "display_name": login.title()},
            "enrollment": {
                "code": "kple_" + secrets.token_hex(9) + "_" + secrets.token_urlsafe(32),
                "expires": (now + timedelta(minutes=15)).isoformat(),
            },
            "issued": now.isoformat(),
            "signature": "fake",
        }

    def paths(self, method: str | None = None) -> list[str]:
        return [r.path for r in self.requests if method is None or r.method == method]

    # -- request handling ---------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                return json.loads(raw) if raw else None

            def _send(
                self,
                status: int,
                data: Any = None,
                headers: dict[str, str] | None = None,
                raw: bytes | None = None,
            ) -> None:
                payload = (
                    raw if raw is not None else (b"" if data is None else json.dumps(data).encode())
                )
                self.send_response(status)
                for key, value in (headers or {"Content-Type": "application/json"}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _handle(self, method: str) -> None:
                body = self._body() if method in ("POST",) else None
                server.requests.append(Recorded(method, self.path, dict(self.headers), body))
                status, data, headers, raw = server.route(
                    method, self.path, dict(self.headers), body
                )
                self._send(status, data, headers, raw)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_DELETE(self) -> None:
                self._handle("DELETE")

        return Handler

    def route(
        self, method: str, path: str, headers: dict[str, str], body: Any
    ) -> tuple[int, Any, dict[str, str] | None, bytes | None]:
        agent_update = headers.get("Koppel-Update", "")
        parts = path.split("/")
        if method == "POST" and path == "/api/v1/links":
            return (*self._links(body, agent_update), None, None)
        if method == "POST" and path == "/api/v1/status":
            return (*self._status(body, agent_update), None, None)
        if len(parts) == 6 and parts[:4] == ["", "api", "v1", "environments"]:
            code, tail = parts[4], parts[5]
            env = self.envs.get(code)
            if tail in ("settings", "settings-bundle", "installation"):
                if env is None:
                    return (
                        404,
                        error("unknown_environment", f"No environment {code}.", code),
                        None,
                        None,
                    )
                auth = headers.get("Authorization", "")
                login, _, password = (
                    base64.b64decode(auth.removeprefix("Basic ")).decode().partition(":")
                )
                if password != self.password:
                    return 401, error("invalid_credentials", "Wrong login or password."), None, None
                if env.connector_blocked:
                    return (
                        403,
                        error("connector_blocked", "App connector is blocked.", code),
                        None,
                        None,
                    )
                if tail == "settings":
                    return 200, self.settings(code, login), None, None
                if tail == "settings-bundle":
                    clients = [c for c, e in self.envs.items() if e.kind == "client"]
                    return (
                        200,
                        {
                            "format": "koppel-bundle/1",
                            "firm": code,
                            "user": {"login": login, "display_name": login.title()},
                            "issued": datetime.now(UTC).isoformat(),
                            "settings": [self.settings(c, login) for c in clients],
                        },
                        None,
                        None,
                    )
                name = f"koppel-{env.update}.0-py3-none-any.whl"
                return (
                    200,
                    None,
                    {
                        "Content-Type": "application/octet-stream",
                        "Content-Disposition": f'attachment; filename="../{name}"',
                    },
                    b"PK-wheel-bytes",
                )
            token = headers.get("Authorization", "").removeprefix("Bearer ")
            problem = self._check_token(token, code, agent_update)
            if problem:
                return (*problem, None, None)
            held = self.tokens[token]
            env = self.envs[code]
            if method == "DELETE" and tail == "link":
                held.revoked = "Access was revoked: the link was removed from the workstation."
                return 204, None, {}, b""
            if method == "GET" and tail == "me":
                return (
                    200,
                    {
                        "environment": code,
                        "environment_name": env.name,
                        "update": env.update,
                        "login": held.login,
                        "display_name": held.login.title(),
                        "workstation": held.workstation,
                        "functions": ["General/Output/My files"],
                        "token_created": datetime.now(UTC).isoformat(),
                        "token_last_used": None,
                    },
                    None,
                    None,
                )
        return 404, error("not_found", f"No route {method} {path}."), None, None

    def _check_token(self, token: str, code: str, agent_update: str) -> tuple[int, Any] | None:
        held = self.tokens.get(token)
        if held is None or held.environment not in self.envs:
            # As the server: the same answer whether the environment exists or not.
            return 401, error("token_invalid", UNKNOWN_TOKEN.format(code=code), code)
        if held.environment != code:
            return 403, error("token_wrong_environment", "Token of another environment.", code)
        if held.revoked:
            return 401, error("token_revoked", held.revoked, code)
        env = self.envs[code]
        if env.update != agent_update:
            return 409, error(
                "update_mismatch",
                f"{code} is on update {env.update}; this agent is on update {agent_update}.",
                code,
            )
        return None

    def _links(self, body: dict[str, Any], agent_update: str) -> tuple[int, Any]:
        details = []
        for doc in body["settings"]:
            code = doc["environment"]["code"]
            env = self.envs.get(code)
            if env is None:
                details.append(
                    {"code": "unknown_environment", "message": f"No {code}.", "environment": code}
                )
            elif doc["enrollment"]["code"] in self.used_codes:
                details.append(
                    {
                        "code": "enrollment_used",
                        "message": "This settings file was already used; save the settings again.",
                        "environment": code,
                    }
                )
            elif env.connector_blocked:
                details.append(
                    {
                        "code": "connector_blocked",
                        "message": "App connector is blocked.",
                        "environment": code,
                    }
                )
            elif env.update != agent_update:
                details.append(
                    {"code": "update_mismatch", "message": "update mismatch", "environment": code}
                )
        if details:
            first = details[0]
            return 409 if first["code"] != "connector_blocked" else 403, {
                **first,
                "environment": first["environment"] if len(details) == 1 else None,
                "message": first["message"],
                "details": details,
            }
        links = []
        station = body["workstation"]
        for doc in body["settings"]:
            code = doc["environment"]["code"]
            login = doc["user"]["login"]
            token = None
            replaced = False
            if not body.get("dry_run"):
                self.used_codes.add(doc["enrollment"]["code"])
                for held in self.tokens.values():
                    if (held.environment, held.login, held.workstation["id"]) == (
                        code,
                        login,
                        station["id"],
                    ) and not held.revoked:
                        held.revoked = "Access was replaced by a newer link from this workstation."
                        replaced = True
                token = "kplt_" + secrets.token_hex(9) + "_" + secrets.token_urlsafe(32)
                self.tokens[token] = FakeToken(code, station, login)
            env = self.envs[code]
            links.append(
                {
                    "code": code,
                    "name": env.name,
                    "kind": env.kind,
                    "update": env.update,
                    "api_url": self.url,
                    "main_site_url": "https://portal.example.com",
                    "login": login,
                    "display_name": login.title(),
                    "token": token,
                    "replaced_previous": replaced,
                }
            )
        return 200, {"links": links}

    def _status(self, body: dict[str, Any], agent_update: str) -> tuple[int, Any]:
        if len(body["environments"]) > MAX_STATUS_QUERIES:
            return 400, error("validation_error", "Too many environments in one request.")
        statuses = []
        for query in body["environments"]:
            code, token = query["environment"], query["token"]
            entry: dict[str, Any] = {"environment": code, "state": "ok", "message": ""}
            problem = self._check_token(token, code, agent_update)
            if problem and problem[1]["code"] in ("token_invalid", "token_wrong_environment"):
                # No valid token for this environment: nothing about it is told.
                entry.update(state=problem[1]["code"], message=problem[1]["message"])
            else:
                env = self.envs[code]
                entry.update(
                    name=env.name,
                    update=env.update,
                    connector_blocked=env.connector_blocked,
                    missing_functions=env.missing_functions,
                )
                if problem:
                    entry.update(state=problem[1]["code"], message=problem[1]["message"])
            statuses.append(entry)
        return 200, {
            "server_version": "2026.2.0",
            "supported_updates": ["2026.2", "2026.1"],
            "statuses": statuses,
        }


def error(code: str, message: str, environment: str | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "environment": environment, "details": []}
