"""The agent's one client of the agent API: a method per route it calls.

One :class:`AgentClient` per server (one api_url), reused for all its environments.
Every request states the agent's update (``Koppel-Update``) and a ``koppel-agent/<version>``
User-Agent; a refusal (an ErrorBody) becomes :class:`~koppel.agent.errors.ApiError`, a
network failure :class:`~koppel.agent.errors.ServerUnreachable`. The plumbing (HTTP, tus,
Server-Sent Events) lives in the private modules beside this one.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import TypeAdapter

from koppel.agent.api import _tus
from koppel.agent.api._http import (
    env_path,
    error_from_response,
    oauth_error,
    parse_model,
)
from koppel.agent.api._sse import SseParser, events
from koppel.agent.api.content import Content, ContentClient, content_of
from koppel.agent.api.credentials import Credential
from koppel.agent.api.events import ServerEvent, parse_event
from koppel.agent.errors import AgentError, ApiError
from koppel.agent.exit_codes import ExitCode
from koppel.i18n import gettext as _
from koppel.protocol.api import (
    AgentRelease,
    LinkRequest,
    LinkResponse,
    MeResponse,
    ServerInfo,
    StatusQuery,
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
from koppel.protocol.dossier import (
    CreateItemRequest,
    DestinationOut,
    ItemList,
    ItemOut,
    ItemTypeOut,
    NewVersionRequest,
    UploadRules,
    VersionOut,
)
from koppel.protocol.events import (
    HEARTBEAT_SECONDS,
    LAST_EVENT_ID_HEADER,
    EventSession,
    EventSessionRequest,
)
from koppel.protocol.files import (
    AnalysisAccepted,
    AnalysisRequest,
    OutputFileList,
    OutputFileOut,
    PendingFilesRequest,
    PendingFilesResponse,
)
from koppel.protocol.wire import API_PREFIX

# What a broken event stream raises (a read timeout after missed heartbeats, a cut
# connection): the watcher reconnects on it.
StreamBroken = httpx.HTTPError


# Built on first use: a command that never lists destinations (``koppel open``) does not
# pay for their validators.
@functools.cache
def _destinations() -> TypeAdapter[list[DestinationOut]]:
    return TypeAdapter(list[DestinationOut])


@functools.cache
def _item_types() -> TypeAdapter[list[ItemTypeOut]]:
    return TypeAdapter(list[ItemTypeOut])


@dataclass(frozen=True)
class CreatedItem:
    """The answer to POST items: the item, and whether it existed already (a resend)."""

    item: ItemOut
    existed: bool


@dataclass(frozen=True)
class ReceivedEvent:
    """One event of the stream: typed, or None when this agent does not understand it."""

    event: ServerEvent | None
    last_event_id: str


class EventStream:
    """An open Server-Sent Events connection of one event session."""

    def __init__(self, response: httpx.Response, last_event_id: int) -> None:
        self._response = response
        self._parser = SseParser(str(last_event_id))
        stream = response.extensions.get("network_stream")
        # The socket, so that another thread can cut a blocking read (shutdown).
        self.socket: Any = stream.get_extra_info("socket") if stream is not None else None

    def lines(self) -> Iterator[str]:
        """The raw lines (heartbeat comments included: each wakes the reader)."""
        return self._response.iter_lines()

    def events(self, lines: Iterator[str]) -> Iterator[ReceivedEvent]:
        """The events of ``lines`` (from :meth:`lines`), typed."""
        for found in events(lines, self._parser):
            try:
                typed: ServerEvent | None = parse_event(found.event, found.data)
            except ValueError:
                typed = None
            yield ReceivedEvent(typed, found.last_event_id)

    @property
    def retry_ms(self) -> int | None:
        """The reconnection time the server asked for, if any."""
        return self._parser.retry_ms


class AgentClient(ContentClient):
    """A connection to one Koppel server (one api_url), reused for all its environments:
    a method per route (the downloads are :class:`ContentClient`'s)."""

    def __init__(self, url: str, *, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(url, transport=transport)
        self._tus = _tus.CapabilityCache()

    # -- linking ------------------------------------------------------------------------------

    def info(self) -> ServerInfo:
        """GET /info: the server version and the updates it hosts."""
        return self._http.parse(ServerInfo, self._http.send("GET", f"{API_PREFIX}/info"))

    def link(self, request: LinkRequest) -> LinkResponse:
        """POST /links: exchange settings documents for tokens (all or nothing)."""
        body = request.model_dump(mode="json")
        response = self._http.send("POST", f"{API_PREFIX}/links", json=body)
        return self._http.parse(LinkResponse, response)

    def status(self, request: StatusRequest) -> StatusResponse:
        """POST /status: the state of many links on this server in one request."""
        body = request.model_dump(mode="json")
        response = self._http.send("POST", f"{API_PREFIX}/status", json=body)
        return self._http.parse(StatusResponse, response)

    def me(self, environment: str, token: str) -> MeResponse:
        """GET /environments/{env}/me: whose token this is and what they may do."""
        response = self._http.send("GET", env_path(environment, "me"), token=token)
        return self._http.parse(MeResponse, response)

    def unlink(self, environment: str, token: str) -> None:
        """DELETE /environments/{env}/link: revoke the calling token."""
        self._http.send("DELETE", env_path(environment, "link"), token=token)

    # -- "Save settings" and "Save installation" ----------------------------------------------

    def settings(self, environment: str, credential: Credential, *, bundle: bool) -> bytes:
        """GET the settings file (or the firm's bundle); the raw bytes."""
        tail = "settings-bundle" if bundle else "settings"
        response = self._http.send(
            "GET", env_path(environment, tail), token=credential.access_token, auth=credential.basic
        )
        return response.content

    @contextlib.contextmanager
    def installation(self, environment: str, credential: Credential) -> Iterator[Content]:
        """GET the agent wheel of the environment's update, streamed."""
        with self._http.stream(
            env_path(environment, "installation"),
            headers=credential.headers(),
            auth=credential.basic,
        ) as response:
            yield content_of(response)

    # -- agent releases ------------------------------------------------------------------------

    def release(self, environment: str, token: str) -> AgentRelease:
        """GET /environments/{env}/release: the newest agent release of its update."""
        response = self._http.send("GET", env_path(environment, "release"), token=token)
        return self._http.parse(AgentRelease, response)

    @contextlib.contextmanager
    def release_wheel(self, download: str, token: str) -> Iterator[Content]:
        """GET the wheel of a release (its ``download`` path, on this server), streamed."""
        if not download.startswith(f"{API_PREFIX}/") or ".." in download:
            # The token goes only to this server's API, never to an address the answer named.
            raise AgentError(
                _(
                    "The server named an unexpected download address ({address}) for the "
                    "agent release; ask its administrator."
                ).format(address=repr(download)),
                ExitCode.ERROR,
            )
        with self._http.stream(download, token=token) as response:
            yield content_of(response)

    def device_authorize(self, scope: str, workstation: str) -> DeviceAuthorization:
        """POST /device/authorize: start an approval in the browser (RFC 8628)."""
        form = {"client_id": CLIENT_ID, "scope": scope, "workstation": workstation}
        response = self._http.post_form(AUTHORIZE_PATH, form)
        if response.status_code != 200:
            raise self._oauth_refusal(response)
        return self._http.parse(DeviceAuthorization, response)

    def device_token(self, device_code: str) -> DeviceToken | str:
        """POST /device/token once: the access token, or the OAuth error code
        (``authorization_pending``, ``slow_down``); other errors are refusals."""
        form = {"grant_type": GRANT_TYPE, "device_code": device_code, "client_id": CLIENT_ID}
        response = self._http.post_form(TOKEN_PATH, form)
        if response.status_code == 200:
            return self._http.parse(DeviceToken, response)
        error = oauth_error(response)[0]
        if error in ("authorization_pending", "slow_down"):
            return error
        raise self._oauth_refusal(response)

    def _oauth_refusal(self, response: httpx.Response) -> AgentError:
        error, description = oauth_error(response)
        if error == "access_denied":
            return AgentError(
                _("Not approved: {reason}").format(reason=description), ExitCode.REFUSED
            )
        if error == "expired_token":
            return AgentError(
                _("The code was not approved in time (15 minutes). Run the command again."),
                ExitCode.REFUSED,
            )
        if not error:
            return self._http.api_error(response)
        return AgentError(
            _(
                "The server refused the approval ({error}: {reason}). Update the agent if this "
                "keeps happening."
            ).format(error=error, reason=description),
            ExitCode.REFUSED,
        )

    # -- the dossier --------------------------------------------------------------------------

    def items(self, environment: str, token: str, params: dict[str, Any]) -> ItemList:
        """GET items: a page of the items the user may see."""
        wanted = {k: v for k, v in params.items() if v is not None}
        response = self._http.send(
            "GET", env_path(environment, "items"), token=token, params=wanted
        )
        return parse_model(ItemList, response.content, self.base_url)

    def item(self, environment: str, token: str, item_id: int) -> ItemOut:
        """GET items/{id}."""
        response = self._http.send("GET", env_path(environment, f"items/{item_id}"), token=token)
        return parse_model(ItemOut, response.content, self.base_url)

    def editable_item(self, environment: str, token: str, item_id: int) -> ItemOut:
        """GET items/{id}/edit: the item, or the refusal (not_editable, connector_blocked)."""
        path = env_path(environment, f"items/{item_id}/edit")
        response = self._http.send("GET", path, token=token)
        return parse_model(ItemOut, response.content, self.base_url)

    def create_item(self, environment: str, token: str, request: CreateItemRequest) -> CreatedItem:
        """POST items: the submission's item (the same one again for a resent submission)."""
        response = self._http.send(
            "POST",
            env_path(environment, "items"),
            token=token,
            json=request.model_dump(mode="json"),
        )
        item = ItemOut.model_validate_json(response.content)
        return CreatedItem(item, existed=response.status_code == 200)

    def new_version(
        self,
        environment: str,
        token: str,
        item_id: int,
        attachment_id: int,
        *,
        upload_id: str,
        etag: str,
        keep_as_conflict: bool = False,
    ) -> VersionOut:
        """POST a finished upload as the next version of an attachment (If-Match: etag)."""
        body = NewVersionRequest(upload=upload_id, keep_as_conflict=keep_as_conflict)
        response = self._http.send(
            "POST",
            env_path(environment, f"items/{item_id}/attachments/{attachment_id}/versions"),
            token=token,
            json=body.model_dump(mode="json"),
            headers={"If-Match": etag},
        )
        return parse_model(VersionOut, response.content, self.base_url)

    def destinations(self, environment: str, token: str) -> list[DestinationOut]:
        """GET destinations: whom the user may submit items about."""
        response = self._http.send("GET", env_path(environment, "destinations"), token=token)
        return _destinations().validate_json(response.content)

    def item_types(self, environment: str, token: str) -> list[ItemTypeOut]:
        """GET item-types: the types of item the user may submit."""
        response = self._http.send("GET", env_path(environment, "item-types"), token=token)
        return _item_types().validate_json(response.content)

    # -- uploads (tus) ------------------------------------------------------------------------

    def upload_rules(self, environment: str, token: str) -> UploadRules | None:
        """GET upload-rules: the size limit and accepted extensions; None from a server
        that lacks the route."""
        try:
            response = self._http.send("GET", env_path(environment, "upload-rules"), token=token)
        except ApiError as exc:
            if exc.status != 404 or exc.code != "not_found":
                raise
            return None
        return parse_model(UploadRules, response.content, self.base_url)

    def upload_limit(self, environment: str, token: str) -> int | None:
        """OPTIONS uploads: the server's largest accepted upload (``Tus-Max-Size``); asked
        once per client, with the tus extensions that :meth:`upload` uses."""
        return self._tus.get(self._http, environment, token).max_size

    def upload(
        self,
        environment: str,
        token: str,
        path: Path,
        *,
        metadata: dict[str, str] | None = None,
        resume_url: str | None = None,
        on_created: Callable[[str], None] | None = None,
        progress: bool = True,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> str:
        """Upload ``path`` with tus (resumed from ``resume_url`` when the server still has
        it; ``on_created`` receives a new upload's URL before any byte is sent;
        ``on_progress`` (sent, size) after each chunk); the upload id. A small file goes
        in one request when the server offers tus creation-with-upload (asked once per
        client). Safe to call from several threads at once."""
        return _tus.upload_file(
            self._http,
            environment,
            token,
            path,
            metadata=metadata,
            resume_url=resume_url,
            on_created=on_created,
            progress=progress,
            on_progress=on_progress,
            server=lambda: self._tus.get(self._http, environment, token),
        )

    def delete_upload(self, token: str, url: str) -> None:
        """DELETE an upload (tus termination); one the server no longer has is fine."""
        _tus.terminate(self._http, token, url)

    # -- My files, analyses and events --------------------------------------------------------

    def my_files(self, environment: str, token: str) -> list[OutputFileOut]:
        """GET files: My files of the token's user, newest first."""
        response = self._http.send("GET", env_path(environment, "files"), token=token)
        return parse_model(OutputFileList, response.content, self.base_url).files

    def mark_delivered(self, environment: str, token: str, file_id: int) -> None:
        """POST files/{id}/delivered: this workstation has the file."""
        self._http.send("POST", env_path(environment, f"files/{file_id}/delivered"), token=token)

    def request_analysis(
        self, environment: str, token: str, destination: str | None
    ) -> AnalysisAccepted:
        """POST analyses: queue a dossier overview; its file id (pending)."""
        body = AnalysisRequest(kind="dossier-overview", destination=destination)
        response = self._http.send(
            "POST",
            env_path(environment, "analyses"),
            token=token,
            json=body.model_dump(mode="json"),
        )
        return parse_model(AnalysisAccepted, response.content, self.base_url)

    def pending_my_files(
        self, queries: list[StatusQuery], workstation_id: str
    ) -> PendingFilesResponse:
        """POST /files/pending: undelivered ready files of many environments at once (the
        tokens travel in the body, not in a header)."""
        body = PendingFilesRequest(environments=queries, workstation_id=workstation_id)
        response = self._http.send(
            "POST", f"{API_PREFIX}/files/pending", json=body.model_dump(mode="json")
        )
        return parse_model(PendingFilesResponse, response.content, self.base_url)

    def open_event_session(self, queries: list[StatusQuery], workstation_id: str) -> EventSession:
        """POST /event-sessions: one session for all the environments on this server."""
        body = EventSessionRequest(environments=queries, workstation_id=workstation_id)
        response = self._http.send(
            "POST", f"{API_PREFIX}/event-sessions", json=body.model_dump(mode="json")
        )
        return parse_model(EventSession, response.content, self.base_url)

    @contextlib.contextmanager
    def event_stream(self, session: str, last_event_id: int) -> Iterator[EventStream]:
        """GET /events/{session}: the session's Server-Sent Events from ``last_event_id``
        on (the session is the credential: no bearer token)."""
        headers = {"Accept": "text/event-stream", LAST_EVENT_ID_HEADER: str(last_event_id)}
        # Three missed heartbeats mean the connection is dead.
        timeout = httpx.Timeout(connect=10.0, read=HEARTBEAT_SECONDS * 3, write=30.0, pool=10.0)
        path = f"{API_PREFIX}/events/{session}"
        with self._http.client.stream("GET", path, headers=headers, timeout=timeout) as response:
            if response.status_code >= 400:
                response.read()
                raise error_from_response(response.status_code, response.content, self.base_url)
            yield EventStream(response, last_event_id)
