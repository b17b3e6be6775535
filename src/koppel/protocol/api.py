"""Request and response bodies of the agent API (JSON, described by the server's OpenAPI)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from koppel.protocol._model import ProtocolModel
from koppel.protocol.errors import ErrorCode

# At most this many environments per POST /status; the agent asks in batches of this size.
MAX_STATUS_QUERIES = 1000
# The form of an environment code as the API accepts it (the server compares upper case).
ENVIRONMENT_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$"
# Far longer than any user token: a bound, so that junk is refused before any work.
MAX_TOKEN_LENGTH = 512


class Workstation(ProtocolModel):
    """The workstation a token is bound to: a stable id and a name people recognise."""

    id: str = Field(min_length=8, max_length=64)
    name: str = Field(min_length=1, max_length=200)


class LinkRequest(ProtocolModel):
    """Exchange the enrollment codes of settings documents for user tokens, all or nothing."""

    workstation: Workstation
    settings: list[dict[str, Any]] = Field(min_length=1, max_length=5000)
    dry_run: bool = False


class LinkedEnvironment(ProtocolModel):
    """One link made: the environment as the server knows it and the new user token."""

    code: str
    name: str
    kind: Literal["firm", "client"]
    update: str
    api_url: str
    main_site_url: str
    login: str
    display_name: str
    token: str | None = None  # absent on a dry run
    replaced_previous: bool = False


class LinkResponse(ProtocolModel):
    """The links made, in the order of the request."""

    links: list[LinkedEnvironment]


class StatusQuery(ProtocolModel):
    """One linked environment the agent asks about."""

    environment: str = Field(pattern=ENVIRONMENT_CODE_PATTERN)
    token: str = Field(max_length=MAX_TOKEN_LENGTH)


class StatusRequest(ProtocolModel):
    """Ask about many linked environments on one server in one request."""

    environments: list[StatusQuery] = Field(max_length=MAX_STATUS_QUERIES)


class InstallationSource(ProtocolModel):
    """Where the holder of a link can "Save installation" for the agent of an update: the
    Communication Center of ``environment`` on the portal at ``portal``."""

    environment: str
    portal: str


class EnvironmentStatus(ProtocolModel):
    """The server's view of one link: ``ok`` or the code of the first problem."""

    environment: str
    state: Literal["ok"] | ErrorCode
    message: str = ""
    name: str | None = None
    update: str | None = None
    login: str | None = None
    connector_blocked: bool = False
    missing_functions: list[str] = Field(default_factory=list)
    # The managing firm of a client environment (firms and clients share one update).
    firm: str | None = None
    # With ``update_mismatch``: where this user gets the agent of the environment's
    # update, when they may ("Save installation"); absent means ask the administrator.
    installation: InstallationSource | None = None


class StatusResponse(ProtocolModel):
    """Statuses in the order asked, plus the updates this server hosts."""

    server_version: str
    supported_updates: list[str]
    statuses: list[EnvironmentStatus]


class MeResponse(ProtocolModel):
    """Who a token belongs to, and what that user may do in the environment."""

    environment: str
    environment_name: str
    update: str
    login: str
    display_name: str
    workstation: Workstation
    functions: list[str]
    token_created: datetime
    token_last_used: datetime | None


class AgentRelease(ProtocolModel):
    """The newest agent release of an environment's update that its server offers
    (``GET /environments/{env}/release``): ``koppel update check`` compares ``version``
    with its own and ``koppel update install`` fetches ``download`` (a path on the same
    server, with the same token) and checks ``sha256`` and ``size``."""

    update: str = Field(description="The update of the release, e.g. 2026.2.")
    version: str = Field(description="The release version, e.g. 2026.2.1.")
    sha256: str = Field(description="SHA-256 of the wheel, lower-case hex.")
    size: int = Field(description="Size of the wheel in bytes.")
    download: str = Field(description="Path of the wheel on this server (GET with the same token).")


class ServerInfo(ProtocolModel):
    """Anonymous description of a server: its version, the updates it hosts and the
    identity of its host (random, not secret: ``koppel-admin check`` asks each recorded
    address for it, to prove the address reaches this host)."""

    server_version: str
    supported_updates: list[str]
    host_id: str = ""  # empty from servers older than 2026.2
