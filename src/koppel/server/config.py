"""Server configuration from ``KOPPEL_*`` environment variables (and CLI flags)."""

from __future__ import annotations

import difflib
import re
import socket
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from platformdirs import user_data_dir
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from koppel.server.domain.policy import Policy
from koppel.server.domain.setup.host import unspecified
from koppel.server.domain.transfer.uploads import UploadLimits

# S3's rule for bucket names (a wrong one would fail every request, not the start).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def _default_data_dir() -> Path:
    return Path(user_data_dir("koppel-server", appauthor=False))


# The databases Koppel runs on (the dialect before any "+driver").
DATABASE_SCHEMES = ("sqlite", "postgresql")


class ServerSettings(BaseSettings):
    """Every setting of the server; each can be given as ``KOPPEL_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="KOPPEL_", extra="ignore")

    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Folder for the embedded database and the blob folder.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default: SQLite in the data folder. "
        "PostgreSQL: postgresql+psycopg://user:password@host/db",
    )
    blob_url: str | None = Field(
        default=None,
        description="Where file contents are kept: s3://bucket/prefix for an S3-compatible "
        "store (endpoint and credentials from AWS_ENDPOINT_URL, AWS_REGION, "
        "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY); default: the blob folder in the data "
        "folder.",
    )
    host: str = Field(default="127.0.0.1", description="Address to listen on.")
    port: int = Field(default=8080, description="Port to listen on.")
    public_url: str | None = Field(
        default=None,
        description="The address agents and browsers use to reach this server; "
        "default http://HOST:PORT.",
    )
    enrollment_ttl_minutes: float = Field(
        default=15, gt=0, le=24 * 60, description="How long a saved settings file can link."
    )
    token_lifetime_days: float = Field(
        default=365, ge=0, description="How long a user token lives; 0 means no expiry."
    )
    auto_migrate: bool = Field(default=True, description="Apply database migrations at start-up.")
    packages_dir: Path | None = Field(
        default=None,
        description="Folder of agent wheels per update; default: <data_dir>/packages.",
    )
    max_upload_mb: float = Field(
        default=75,
        gt=0,
        description="The largest file one upload may carry, in MB as Windows counts them "
        "(1 MB = 1,048,576 bytes: 75 is 78,643,200 bytes).",
    )
    upload_expiry_hours: float = Field(
        default=24, gt=0, description="How long an unfinished or unclaimed upload is kept."
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="The keys that encrypt the secrets in the database, comma-separated, "
        "the first encrypting (`koppel-admin secret-key generate`); default: the key file.",
    )
    secret_key_file: Path | None = Field(
        default=None,
        description="The key file used when KOPPEL_SECRET_KEY is not set; "
        "default: <data_dir>/secret.key, created on first start.",
    )
    workers: int = Field(
        default=1,
        ge=0,
        le=32,
        description="Job worker threads of this process (analyses); 0 runs no jobs here.",
    )
    job_lease_seconds: float = Field(
        default=60,
        ge=5,
        le=3600,
        description="How long a running job stays claimed without a heartbeat from its "
        "worker (renewed every third of it); a job whose worker died is taken again by "
        "another worker once its lease lapsed.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Log lines as text (a timestamp, level, logger, request id, message) "
        "or as one JSON object each (for a log collector).",
    )
    smtp_url: SecretStr | None = Field(
        default=None,
        description="The mail server that sends forgotten-password links: "
        "smtp://user:password@host:587?starttls=true, or smtps://user:password@host:465 "
        "(TLS from the start); unset: no e-mail is sent and passwords are reset by the "
        "administrator.",
    )
    mail_from: str | None = Field(
        default=None,
        description='The sender of the server\'s e-mail, e.g. "Koppel <portal@firm.example>"; '
        "default: koppel@ the host of the public address.",
    )
    metrics: bool = Field(
        default=True,
        description="Serve Prometheus metrics at /metrics (keep it off the internet: see "
        "docs/operations.md).",
    )

    @field_validator("database_url")
    @classmethod
    def _database_address(cls, value: str | None) -> str | None:
        url = (value or "").strip()
        if not url:
            return None
        scheme = url.partition(":")[0].partition("+")[0]
        if scheme not in DATABASE_SCHEMES or "://" not in url:
            raise ValueError(
                "write it as postgresql+psycopg://user@host/database or sqlite:///path, or "
                "leave it unset for SQLite in the data folder"
            )
        return url

    @field_validator("blob_url")
    @classmethod
    def _s3_address(cls, value: str | None) -> str | None:
        url = (value or "").strip()
        if not url:
            return None
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc or parsed.query or parsed.fragment:
            raise ValueError("write it as s3://bucket/prefix, or leave it unset for the folder")
        if not _BUCKET.match(parsed.netloc):
            raise ValueError(
                f"{parsed.netloc!r} is not a bucket name (3 to 63 lower-case letters, digits, "
                "dots and hyphens); write it as s3://bucket/prefix"
            )
        return url

    @field_validator("smtp_url")
    @classmethod
    def _smtp_address(cls, value: SecretStr | None) -> SecretStr | None:
        url = value.get_secret_value().strip() if value else ""
        if not url:
            return None
        parsed = urlparse(url)
        if parsed.scheme not in ("smtp", "smtps") or not parsed.hostname or parsed.fragment:
            raise ValueError(
                "write it as smtp://user:password@host:587?starttls=true or "
                "smtps://user:password@host:465, or leave it unset"
            )
        for part in filter(None, parsed.query.split("&")):
            name, _, flag = part.partition("=")
            if name != "starttls" or flag.lower() not in ("true", "false"):
                raise ValueError(f"unknown option {part!r}; the only one is starttls=true|false")
        try:
            parsed.port  # noqa: B018 (raises for a port that is no number)
        except ValueError:
            raise ValueError("the port is not a number") from None
        return SecretStr(url)

    @property
    def resolved_mail_from(self) -> str:
        """The sender of e-mail, defaulting to koppel@ the public address's host."""
        if self.mail_from and self.mail_from.strip():
            return self.mail_from.strip()
        return f"koppel@{urlparse(self.resolved_public_url).hostname or 'localhost'}"

    @property
    def resolved_database_url(self) -> str:
        """The database URL to use, defaulting to SQLite in the data folder."""
        return self.database_url or f"sqlite:///{self.data_dir / 'koppel.sqlite3'}"

    @property
    def resolved_public_url(self) -> str:
        """The public address, defaulting to the bind address; a server listening on every
        interface (0.0.0.0, ::) is announced by this computer's name, which other computers
        can use where 0.0.0.0 would be their own machine."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = socket.gethostname() if unspecified(self.host) else self.host
        return f"http://{host}:{self.port}"

    @property
    def resolved_packages_dir(self) -> Path:
        """Where agent wheels are kept and cached."""
        return self.packages_dir or self.data_dir / "packages"

    @property
    def resolved_secret_key_file(self) -> Path:
        """The key file (used when ``KOPPEL_SECRET_KEY`` is not set)."""
        return self.secret_key_file or self.data_dir / "secret.key"

    def policy(self) -> Policy:
        """The domain's view of these settings."""
        return Policy(
            public_url=self.resolved_public_url,
            enrollment_ttl=timedelta(minutes=self.enrollment_ttl_minutes),
            token_lifetime=timedelta(days=self.token_lifetime_days)
            if self.token_lifetime_days
            else None,
        )

    @property
    def job_lease(self) -> timedelta:
        """How long a job's claim lasts without renewal."""
        return timedelta(seconds=self.job_lease_seconds)

    def upload_limits(self) -> UploadLimits:
        """The largest file accepted (tus, the portal's form, integrations) and how long
        an unfinished tus upload is kept."""
        return UploadLimits(
            max_bytes=int(self.max_upload_mb * 1024 * 1024),
            expiry=timedelta(hours=self.upload_expiry_hours),
        )


# KOPPEL_* variables the server side reads that are no ServerSettings field.
_SERVER_VARIABLES = frozenset({"KOPPEL_ACTOR", "KOPPEL_DEBUG", "KOPPEL_LANG"})
# The agent's own variables (``koppel`` on a workstation): an administrator who tries the
# agent on the host has them set, and they are no mistake (tests/test_config_variables.py
# checks that every one the agent reads is here).
_AGENT_VARIABLES = frozenset({
    "KOPPEL_AGENT_HOME", "KOPPEL_CA_BUNDLE", "KOPPEL_DOWNLOADS_DIR", "KOPPEL_LANG",
    "KOPPEL_NO_NOTIFICATIONS", "KOPPEL_NO_UPDATE_CHECK", "KOPPEL_OPEN_COMMAND",
    "KOPPEL_PASSWORD", "KOPPEL_PROGRESS", "KOPPEL_TIMINGS", "KOPPEL_TOKEN_STORE",
    "KOPPEL_UPLOAD_CHECKSUM", "KOPPEL_UPLOAD_CHUNK_BYTES", "KOPPEL_UPLOAD_RETRY_SECONDS",
    "KOPPEL_WORKSTATION_NAME",
})  # fmt: skip
# Variables of the project's own tests and benchmarks.
_TOOL_VARIABLES = frozenset({
    "KOPPEL_AXE_DIR", "KOPPEL_BENCH_SHOWN", "KOPPEL_SCREENSHOTS", "KOPPEL_TEST_PROXY_RECORD",
})  # fmt: skip
_OTHER_VARIABLES = _SERVER_VARIABLES | _AGENT_VARIABLES | _TOOL_VARIABLES


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """A warning for each ``KOPPEL_*`` variable that is not a setting (a misspelt one is
    otherwise ignored without a word: replicas would migrate by themselves, files would
    go to the folder instead of the bucket), naming the setting it resembles."""
    known = {f"KOPPEL_{name.upper()}" for name in ServerSettings.model_fields}
    known |= _OTHER_VARIABLES
    warnings = []
    for name in sorted(environ):
        if not name.startswith("KOPPEL_") or name in known:
            continue
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
        hint = f" (did you mean {close[0]}?)" if close else ""
        warnings.append(f"{name} is not a setting of the server and is ignored{hint}.")
    return warnings


def data_folder_problem(settings: ServerSettings, exc: OSError) -> str:
    """What to say when the data folder (or a file in it) cannot be made or opened."""
    folder = settings.data_dir
    if folder.exists() and not folder.is_dir():
        why = "it is a file, not a folder"
    else:
        why = f"{exc.strerror or type(exc).__name__}: {exc.filename or folder}"
    return (
        f"the data folder {folder} cannot be used ({why}); give a folder this user may "
        "create and write with --data-dir (KOPPEL_DATA_DIR)."
    )


def settings_problems(exc: ValidationError) -> str:
    """Each invalid setting of ``exc`` as its variable and what is wrong with it."""
    return "; ".join(
        f"KOPPEL_{'_'.join(str(p) for p in e['loc']).upper()}: "
        + str(e["msg"]).removeprefix("Value error, ")  # pydantic's label for our own checks
        for e in exc.errors()
    )
