"""The HTTP client of the agent API: one httpx client per server, errors mapped to exceptions.

Every request states the agent's update (``Koppel-Update``) and a ``koppel-agent/<version>``
User-Agent. A refusal (an ErrorBody) becomes :class:`ApiError`; a network failure becomes
:class:`ServerUnreachable`. ``KOPPEL_CA_BUNDLE`` names extra CA certificates to trust.
"""

from __future__ import annotations

import contextlib
import os
import re
import ssl
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from koppel.agent.atomic import atomic_writer
from koppel.agent.credentials import Credential
from koppel.agent.errors import AgentError, ApiError, ErrorItem, ServerUnreachable
from koppel.agent.exit_codes import ExitCode
from koppel.agent.version import AGENT_UPDATE_TEXT, USER_AGENT
from koppel.protocol.api import (
    API_PREFIX,
    LinkRequest,
    LinkResponse,
    MeResponse,
    ServerInfo,
    StatusRequest,
    StatusResponse,
)
from koppel.protocol.device import (
    AUTHORIZE_PATH,
    CLIENT_ID,
    GRANT_TYPE,
    TOKEN_PATH,
    DeviceAuthorization,
    DeviceToken,
)
from koppel.protocol.updates import UPDATE_HEADER
from koppel.protocol.urls import url_problem

CA_BUNDLE_ENV = "KOPPEL_CA_BUNDLE"
TIMEOUT = httpx.Timeout(30.0, connect=5.0)

Model = TypeVar("Model", bound=BaseModel)


def server_base(url: str) -> str:
    """The server's root address from an api_url or a typed URL (``/api/v1`` is optional)."""
    base = url.strip().rstrip("/")
    if base.endswith(API_PREFIX):
        base = base[: -len(API_PREFIX)]
    problem = url_problem(base)
    if problem:
        shown = url if len(url) <= 80 else url[:77] + "..."
        raise AgentError(
            f"{shown!r} is not a server address ({problem}); expected http(s)://host[:port]."
        )
    return base


def parse_model(model: type[Model], content: bytes, server: str) -> Model:
    """A response body as ``model``, or an AgentError saying the answer was not understood."""
    try:
        return model.model_validate_json(content)
    except ValidationError as exc:
        raise AgentError(
            f"The server at {server} gave an answer this agent does not understand "
            f"({model.__name__}). Is the agent up to date?"
        ) from exc


def tls_context(base_url: str) -> ssl.SSLContext:
    """How TLS certificates are checked: httpx's default CAs plus ``KOPPEL_CA_BUNDLE``.

    A plain-http server never leads to TLS (redirects are not followed), so it gets an
    empty strict context instead: loading the CA store costs ~80 ms of every command, and
    should TLS ever happen, a context that trusts nothing refuses it.
    """
    if base_url.startswith("http://"):
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context = httpx.create_ssl_context()
    extra = os.environ.get(CA_BUNDLE_ENV)
    if extra:
        try:
            context.load_verify_locations(cafile=extra)
        except (OSError, ssl.SSLError) as exc:
            raise AgentError(
                f"{CA_BUNDLE_ENV}={extra} is not a readable file of PEM certificates "
                f"({exc}); fix or unset it."
            ) from exc
    return context


def env_path(environment: str, tail: str) -> str:
    """The path of an environment-scoped route."""
    return f"{API_PREFIX}/environments/{quote(environment, safe='')}/{tail}"


class AgentClient:
    """A connection to one Koppel server (one api_url), reused for all its environments."""

    def __init__(self, url: str, *, transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = server_base(url)
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={UPDATE_HEADER: AGENT_UPDATE_TEXT, "User-Agent": USER_AGENT},
            timeout=TIMEOUT,
            verify=tls_context(self.base_url),
            transport=transport,
        )

    def __enter__(self) -> AgentClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # -- the routes -------------------------------------------------------------------------

    def info(self) -> ServerInfo:
        """GET /info: the server version and the updates it hosts."""
        return self._parse(ServerInfo, self._send("GET", f"{API_PREFIX}/info"))

    def link(self, request: LinkRequest) -> LinkResponse:
        """POST /links: exchange settings documents for tokens (all or nothing)."""
        body = request.model_dump(mode="json")
        return self._parse(LinkResponse, self._send("POST", f"{API_PREFIX}/links", json=body))

    def status(self, request: StatusRequest) -> StatusResponse:
        """POST /status: the state of many links on this server in one request."""
        body = request.model_dump(mode="json")
        return self._parse(StatusResponse, self._send("POST", f"{API_PREFIX}/status", json=body))

    def me(self, environment: str, token: str) -> MeResponse:
        """GET /environments/{env}/me: whose token this is and what they may do."""
        response = self._send("GET", env_path(environment, "me"), token=token)
        return self._parse(MeResponse, response)

    def unlink(self, environment: str, token: str) -> None:
        """DELETE /environments/{env}/link: revoke the calling token."""
        self._send("DELETE", env_path(environment, "link"), token=token)

    def settings(self, environment: str, credential: Credential, *, bundle: bool) -> bytes:
        """GET the settings file (or the firm's bundle); the raw bytes."""
        tail = "settings-bundle" if bundle else "settings"
        response = self._send(
            "GET", env_path(environment, tail), token=credential.access_token, auth=credential.basic
        )
        return response.content

    def installation(self, environment: str, credential: Credential, folder: Path) -> Path:
        """GET the agent wheel of the environment's update into ``folder``; its path."""
        url = env_path(environment, "installation")
        try:
            with self._http.stream(
                "GET", url, headers=credential.headers(), auth=credential.basic
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    raise self._api_error(response)
                name = attachment_name(response.headers.get("content-disposition", ""))
                if not name:
                    raise AgentError(
                        "The server sent the installation without a file name; "
                        "ask the administrator to check the server."
                    )
                target = folder / name
                with atomic_writer(target, mode=0o644) as handle:
                    for chunk in response.iter_bytes():
                        handle.write(chunk)
        except httpx.TransportError as exc:
            raise ServerUnreachable(self.base_url, _reason(exc)) from exc
        return target

    def device_authorize(self, scope: str, workstation: str) -> DeviceAuthorization:
        """POST /device/authorize: start an approval in the browser (RFC 8628)."""
        form = {"client_id": CLIENT_ID, "scope": scope, "workstation": workstation}
        response = self._oauth(AUTHORIZE_PATH, form)
        if response.status_code != 200:
            raise self._oauth_refusal(response)
        return self._parse(DeviceAuthorization, response)

    def device_token(self, device_code: str) -> DeviceToken | str:
        """POST /device/token once: the access token, or the OAuth error code
        (``authorization_pending``, ``slow_down``); other errors are refusals."""
        form = {"grant_type": GRANT_TYPE, "device_code": device_code, "client_id": CLIENT_ID}
        response = self._oauth(TOKEN_PATH, form)
        if response.status_code == 200:
            return self._parse(DeviceToken, response)
        error = _oauth_error(response)[0]
        if error in ("authorization_pending", "slow_down"):
            return error
        raise self._oauth_refusal(response)

    def _oauth(self, path: str, form: dict[str, str]) -> httpx.Response:
        try:
            return self._http.post(path, data=form)
        except httpx.TransportError as exc:
            raise ServerUnreachable(self.base_url, _reason(exc)) from exc

    def _oauth_refusal(self, response: httpx.Response) -> AgentError:
        error, description = _oauth_error(response)
        if error == "access_denied":
            return AgentError(f"Not approved: {description}", ExitCode.REFUSED)
        if error == "expired_token":
            return AgentError(
                "The code was not approved in time (15 minutes). Run the command again.",
                ExitCode.REFUSED,
            )
        if not error:
            return self._api_error(response)
        return AgentError(
            f"The server refused the approval ({error}: {description}). Update the agent "
            "if this keeps happening.",
            ExitCode.REFUSED,
        )

    # -- generic access (the dossier, uploads and files modules build on these) -------------
    def request(
        self,
        method: str,
        path: str,
        *,
        token: str,
        json: Any = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        content: Iterable[bytes] | bytes | None = None,
    ) -> httpx.Response:
        """Any bearer-authenticated request; ApiError on a refusal, ServerUnreachable.

        ``content`` may be an iterable of bytes: it is streamed, never joined in memory.
        """
        sent = {"Authorization": f"Bearer {token}", **(headers or {})}
        try:
            response = self._http.request(
                method, path, json=json, headers=sent, params=params, content=content
            )
        except httpx.TransportError as exc:
            raise ServerUnreachable(self.base_url, _reason(exc)) from exc
        if response.status_code >= 400:
            raise self._api_error(response)
        return response

    @contextlib.contextmanager
    def stream(
        self, path: str, *, token: str, headers: dict[str, str] | None = None
    ) -> Iterator[httpx.Response]:
        """A streamed bearer-authenticated GET (the body is not read); ApiError on a
        refusal (304 is not one), ServerUnreachable when the server cannot be reached."""
        sent = {"Authorization": f"Bearer {token}", **(headers or {})}
        try:
            with self._http.stream("GET", path, headers=sent) as response:
                if response.status_code >= 400:
                    response.read()
                    raise self._api_error(response)
                yield response
        except httpx.TransportError as exc:
            raise ServerUnreachable(self.base_url, _reason(exc)) from exc

    # -- plumbing -----------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        auth: tuple[str, str] | None = None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        try:
            response = self._http.request(method, path, json=json, headers=headers, auth=auth)
        except httpx.TransportError as exc:
            raise ServerUnreachable(self.base_url, _reason(exc)) from exc
        if response.status_code >= 400:
            raise self._api_error(response)
        return response

    def _api_error(self, response: httpx.Response) -> ApiError:
        return error_from_response(response.status_code, response.content, self.base_url)

    def _parse(self, model: type[Model], response: httpx.Response) -> Model:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise AgentError(
                f"The server at {self.base_url} gave an answer this agent does not "
                f"understand ({model.__name__}: {exc.errors()[0]['msg']}). Check that "
                "api_url points to a Koppel server."
            ) from exc


def error_from_response(status: int, content: bytes, server: str) -> ApiError:
    """Map an HTTP refusal to ApiError, from its ErrorBody when it has one.

    Parsed leniently (not with the ErrorBody model) so that a code added by a newer
    server still reaches the user with its message instead of a validation failure.
    """
    import json

    try:
        data = json.loads(content)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("code"), str):
        details = [
            ErrorItem(
                code=str(item.get("code", "")),
                message=str(item.get("message", "")),
                environment=item.get("environment"),
            )
            for item in data.get("details") or []
            if isinstance(item, dict)
        ]
        return ApiError(
            data["code"],
            str(data.get("message") or f"The server refused the request ({data['code']})."),
            environment=data.get("environment"),
            details=details,
            status=status,
        )
    return ApiError(
        "internal_error" if status >= 500 else "http_error",
        f"The server at {server} answered HTTP {status} without an explanation. "
        "Check that api_url points to a Koppel server, or try again later.",
        status=status,
    )


def attachment_name(disposition: str) -> str | None:
    """The file name of a Content-Disposition header, reduced to a plain base name."""
    match = re.search(r"filename\*=UTF-8''([^;]+)", disposition, re.IGNORECASE)
    if match:
        from urllib.parse import unquote

        name = unquote(match.group(1))
    else:
        match = re.search(r'filename="?([^";]+)"?', disposition, re.IGNORECASE)
        if not match:
            return None
        name = match.group(1)
    # Never let a server choose where the file goes, only its name.
    name = os.path.basename(name.replace("\\", "/")).strip()
    return name if name and name not in (".", "..") else None


def _oauth_error(response: httpx.Response) -> tuple[str, str]:
    """The ``error`` and ``error_description`` of an OAuth 2.0 error answer ("" if none)."""
    import json

    try:
        data = json.loads(response.content)
    except ValueError:
        return "", ""
    if not isinstance(data, dict):
        return "", ""
    return str(data.get("error") or ""), str(data.get("error_description") or "")


def _reason(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0]
