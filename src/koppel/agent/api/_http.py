"""The HTTP plumbing of the agent API: one httpx client per server, errors mapped to exceptions.

Every request states the agent's update (``Koppel-Update``), a ``koppel-agent/<version>``
User-Agent and the user's language (``Accept-Language``: refusals come back in it). A
refusal (an ErrorBody) becomes :class:`ApiError`; a network failure becomes
:class:`ServerUnreachable`. ``KOPPEL_CA_BUNDLE`` names extra CA certificates to trust.
Requests go through the proxy :mod:`koppel.agent.api.proxy` chooses for the server
(``HTTPS_PROXY``/``NO_PROXY``, else the operating system's proxy settings).
"""

from __future__ import annotations

import contextlib
import os
import re
import ssl
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import httpx

from koppel.agent.api._body import READ_BYTES
from koppel.agent.api.language import ACCEPT_LANGUAGE, accept_language
from koppel.agent.api.proxy import choose as choose_proxy
from koppel.agent.errors import AgentError, ApiError, ErrorItem, ServerUnreachable
from koppel.agent.version import AGENT_UPDATE_TEXT, USER_AGENT
from koppel.i18n import gettext as _
from koppel.protocol.updates import UPDATE_HEADER
from koppel.protocol.urls import url_problem
from koppel.protocol.wire import API_PREFIX

if TYPE_CHECKING:
    from pydantic import BaseModel

CA_BUNDLE_ENV = "KOPPEL_CA_BUNDLE"
TIMEOUT = httpx.Timeout(30.0, connect=5.0)

# pydantic is loaded by the first answer parsed, not by this module: downloads need none.
Model = TypeVar("Model", bound="BaseModel")


def server_base(url: str) -> str:
    """The server's root address from an api_url or a typed URL (``/api/v1`` is optional)."""
    base = url.strip().rstrip("/")
    if base.endswith(API_PREFIX):
        base = base[: -len(API_PREFIX)]
    problem = url_problem(base)
    if problem:
        shown = url if len(url) <= 80 else url[:77] + "..."
        raise AgentError(
            _(
                "{address} is not a server address ({problem}); expected http(s)://host[:port]."
            ).format(address=repr(shown), problem=problem)
        )
    return base


def parse_model(model: type[Model], content: bytes, server: str) -> Model:
    """A response body as ``model``, or an AgentError saying the answer was not understood."""
    from pydantic import ValidationError

    try:
        return model.model_validate_json(content)
    except ValidationError as exc:
        raise AgentError(
            _(
                "The server at {server} gave an answer this agent does not understand "
                "({answer}). Is the agent up to date?"
            ).format(server=server, answer=model.__name__)
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
                _(
                    "{variable}={value} is not a readable file of PEM certificates "
                    "({reason}); fix or unset it."
                ).format(variable=CA_BUNDLE_ENV, value=extra, reason=exc)
            ) from exc
    return context


# Bytes asked of the socket per read. httpcore asks 64 KiB: a 75 MB download is then
# 1,200 trips through httpcore and h11 (each copies the bytes twice more), a third of the
# receiving thread's time. 256 KiB needs a quarter of those; larger reads cost more again
# (each read's buffer is a fresh allocation of that size). A read returns what has
# arrived, never waits to fill the buffer, so small answers and the event stream are as
# before. TLS reads return one record (16 KiB) at most whatever is asked. (A large body
# is read past httpx altogether: see _body.py.)


def _read_in_large_chunks() -> None:
    """Have httpcore's HTTP/1.1 connections read the socket ``READ_BYTES`` at a time."""
    from httpcore._sync.http11 import HTTP11Connection

    if HTTP11Connection.READ_NUM_BYTES < READ_BYTES:
        HTTP11Connection.READ_NUM_BYTES = READ_BYTES


def env_path(environment: str, tail: str) -> str:
    """The path of an environment-scoped route."""
    return f"{API_PREFIX}/environments/{quote(environment, safe='')}/{tail}"


class Http:
    """One httpx client per server: the agent's headers, TLS, and errors as exceptions."""

    def __init__(self, url: str, *, transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = server_base(url)
        self.proxy = choose_proxy(self.base_url)
        self.client = httpx.Client(
            base_url=self.base_url,
            headers={
                UPDATE_HEADER: AGENT_UPDATE_TEXT,
                "User-Agent": USER_AGENT,
                ACCEPT_LANGUAGE: accept_language(),
            },
            timeout=TIMEOUT,
            verify=tls_context(self.base_url),
            transport=transport,
            # The proxy chosen above, never httpx's own reading of the environment: the
            # two would differ on the system's exception list, and doctor names this one.
            proxy=self.proxy.url,
            trust_env=False,
        )
        _read_in_large_chunks()

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()

    def send(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        auth: tuple[str, str] | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        content: Iterable[bytes] | bytes | None = None,
    ) -> httpx.Response:
        """One request (bearer-authenticated when ``token``); ApiError on a refusal,
        ServerUnreachable when the server cannot be reached. ``content`` may be an
        iterable of bytes: it is streamed, never joined in memory."""
        sent = {"Authorization": f"Bearer {token}"} if token else {}
        sent.update(headers or {})
        try:
            response = self.client.request(
                method,
                path,
                json=json,
                headers=sent or None,
                auth=auth,
                params=params,
                content=content,
            )
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        if response.status_code >= 400:
            raise self.api_error(response)
        return response

    @contextlib.contextmanager
    def stream(
        self,
        path: str,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> Iterator[httpx.Response]:
        """A streamed GET (the body is not read); ApiError on a refusal (304 is not
        one), ServerUnreachable when the server cannot be reached."""
        sent = {"Authorization": f"Bearer {token}"} if token else {}
        sent.update(headers or {})
        extra: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
        try:
            with self.client.stream(
                "GET", path, headers=sent or None, auth=auth, **extra
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    raise self.api_error(response)
                yield response
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc

    def post_form(self, path: str, form: dict[str, str]) -> httpx.Response:
        """A form POST whose refusals the caller reads itself (OAuth answers)."""
        try:
            return self.client.post(path, data=form)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc

    def _unreachable(self, exc: httpx.TransportError) -> ServerUnreachable:
        """The server could not be reached; through which proxy, when one is used."""
        via = self.proxy.describe() if self.proxy.url else None
        return ServerUnreachable(self.base_url, transport_reason(exc), via)

    def api_error(self, response: httpx.Response) -> ApiError:
        """The refusal a response carries."""
        return error_from_response(response.status_code, response.content, self.base_url)

    def parse(self, model: type[Model], response: httpx.Response) -> Model:
        """A response of the linking routes as ``model`` (the answer may come from
        something that is not a Koppel server at all)."""
        from pydantic import ValidationError

        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise AgentError(
                _(
                    "The server at {server} gave an answer this agent does not understand "
                    "({answer}: {problem}). Check that api_url points to a Koppel server."
                ).format(
                    server=self.base_url, answer=model.__name__, problem=exc.errors()[0]["msg"]
                )
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
            str(
                data.get("message")
                or _("The server refused the request ({code}).").format(code=data["code"])
            ),
            environment=data.get("environment"),
            details=details,
            status=status,
        )
    return ApiError(
        "internal_error" if status >= 500 else "http_error",
        _(
            "The server at {server} answered HTTP {status} without an explanation. Check "
            "that api_url points to a Koppel server, or try again later."
        ).format(server=server, status=status),
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


def oauth_error(response: httpx.Response) -> tuple[str, str]:
    """The ``error`` and ``error_description`` of an OAuth 2.0 error answer ("" if none)."""
    import json

    try:
        data = json.loads(response.content)
    except ValueError:
        return "", ""
    if not isinstance(data, dict):
        return "", ""
    return str(data.get("error") or ""), str(data.get("error_description") or "")


def transport_reason(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return _("timed out")
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0]
