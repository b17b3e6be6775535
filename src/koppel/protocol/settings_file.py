"""Settings files (``*.koppel``) and bundles: what "Save settings" hands a user.

A settings file names one environment, the user, and a single-use enrollment code that
the agent exchanges for a user token. The server signs the document (HMAC over its
canonical JSON) so that an altered file is refused at linking time. A bundle holds the
settings files of many environments so that a whole practice links in one step.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ValidationError

from koppel.protocol.errors import ErrorDetail
from koppel.protocol.updates import Update

SETTINGS_FORMAT: Final = "koppel-settings/1"
BUNDLE_FORMAT: Final = "koppel-bundle/1"
SETTINGS_SUFFIX = ".koppel"


class SettingsFileError(ValueError):
    """A file that is not a readable settings file or bundle."""


class SettingsEnvironment(BaseModel):
    """The environment a settings file links to."""

    code: str
    name: str
    kind: Literal["firm", "client"]
    update: str
    api_url: str
    main_site_url: str


class SettingsUser(BaseModel):
    """The user the settings file was saved for."""

    login: str
    display_name: str


class Enrollment(BaseModel):
    """The single-use code that linking exchanges for a user token."""

    code: str
    expires: datetime


class SettingsFile(BaseModel):
    """One environment's settings, as saved by "Save settings"."""

    format: Literal["koppel-settings/1"] = SETTINGS_FORMAT
    environment: SettingsEnvironment
    user: SettingsUser
    enrollment: Enrollment
    issued: datetime
    signature: str = ""

    @property
    def update(self) -> Update:
        """The environment's update as recorded in the file."""
        return Update.parse(self.environment.update)


class SettingsBundle(BaseModel):
    """The settings files of every client environment a firm user may link."""

    format: Literal["koppel-bundle/1"] = BUNDLE_FORMAT
    firm: str
    user: SettingsUser
    issued: datetime
    settings: list[SettingsFile]
    # Client environments of the firm that were left out, each with the reason.
    skipped: list[ErrorDetail] = []


def canonical_bytes(document: dict[str, Any]) -> bytes:
    """The bytes a signature covers: the document without its signature, keys sorted."""
    unsigned = {key: value for key, value in document.items() if key != "signature"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def read_documents(raw: bytes, source: str = "the file") -> list[dict[str, Any]]:
    """Return the settings documents in a settings file or bundle, as the raw dicts.

    The raw dicts are what the agent sends back to the server, so the signature is
    checked over exactly what the server issued.
    """
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SettingsFileError(
            f"{source} is not a Koppel settings file (not JSON: {exc}). "
            "Save the settings again from your environment."
        ) from exc
    if not isinstance(data, dict):
        raise SettingsFileError(f"{source} is not a Koppel settings file.")
    kind = data.get("format")
    documents: list[Any]
    if kind == SETTINGS_FORMAT:
        documents = [data]
    elif kind == BUNDLE_FORMAT:
        documents = data.get("settings") if isinstance(data.get("settings"), list) else None  # type: ignore[assignment]
        if documents is None:
            raise SettingsFileError(f"{source} is a bundle without a list of settings.")
        if not documents:
            raise SettingsFileError(
                f"{source} is an empty bundle: you are not authorized to save settings "
                "in any client environment of this firm."
            )
    else:
        raise SettingsFileError(
            f"{source} has format {kind!r}; this agent reads {SETTINGS_FORMAT!r} and "
            f"{BUNDLE_FORMAT!r}. Save the settings again, or install a newer agent."
        )
    for document in documents:
        parse_settings(document, source)
    return [dict(document) for document in documents]


def parse_settings(document: Any, source: str = "the file") -> SettingsFile:
    """Validate one settings document; raise SettingsFileError naming what is wrong."""
    try:
        settings = SettingsFile.model_validate(document)
        settings.update  # noqa: B018 - validates the update's form
    except (ValidationError, ValueError) as exc:
        raise SettingsFileError(
            f"{source} is damaged or incomplete ({_first_problem(exc)}). "
            "Save the settings again from your environment."
        ) from exc
    return settings


def _first_problem(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        return f"{where}: {error['msg']}"
    return str(exc)
