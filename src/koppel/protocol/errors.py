"""Stable error codes and the JSON error body every API refusal carries."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from koppel.protocol._model import ProtocolModel


class ErrorCode(StrEnum):
    """Machine-readable reasons for a refusal. Never renamed once released."""

    VALIDATION_ERROR = "validation_error"
    INVALID_CREDENTIALS = "invalid_credentials"
    ACCOUNT_DISABLED = "account_disabled"
    UNKNOWN_ENVIRONMENT = "unknown_environment"
    NOT_A_MEMBER = "not_a_member"
    NOT_AUTHORIZED = "not_authorized"
    CONNECTOR_BLOCKED = "connector_blocked"
    MAIN_SITE_MISSING = "main_site_missing"
    API_URL_MISSING = "api_url_missing"
    ADDRESS_UNKNOWN = "address_unknown"
    NOT_A_FIRM = "not_a_firm"
    ENROLLMENT_UNKNOWN = "enrollment_unknown"
    ENROLLMENT_USED = "enrollment_used"
    ENROLLMENT_EXPIRED = "enrollment_expired"
    SETTINGS_TAMPERED = "settings_tampered"
    UPDATE_MISMATCH = "update_mismatch"
    UPDATE_UNSUPPORTED = "update_unsupported"
    # A settings file saved before its environment was converted to another update.
    SETTINGS_OUTDATED = "settings_outdated"
    TOKEN_MISSING = "token_missing"
    TOKEN_INVALID = "token_invalid"
    TOKEN_REVOKED = "token_revoked"
    TOKEN_WRONG_ENVIRONMENT = "token_wrong_environment"
    INSTALLATION_UNAVAILABLE = "installation_unavailable"
    TOO_LARGE = "too_large"
    UPLOAD_INCOMPLETE = "upload_incomplete"
    FILE_NOT_READY = "file_not_ready"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    UPLOAD_EXPIRED = "upload_expired"
    OFFSET_MISMATCH = "offset_mismatch"
    UNSAFE_NAME = "unsafe_name"
    EMPTY_FILE = "empty_file"
    EXTENSION_NOT_ALLOWED = "extension_not_allowed"
    VERSION_CONFLICT = "version_conflict"
    NOT_EDITABLE = "not_editable"
    RANGE_NOT_SATISFIABLE = "range_not_satisfiable"
    NOT_FOUND = "not_found"
    ACCOUNT_LOCKED = "account_locked"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    NO_PORTAL_ACCESS = "no_portal_access"
    NO_PORTAL = "no_portal"
    SIGN_IN_REQUIRED = "sign_in_required"
    CSRF_FAILED = "csrf_failed"
    SECOND_FACTOR_INVALID = "second_factor_invalid"
    SECOND_FACTOR_REQUIRED = "second_factor_required"
    DEVICE_CODE_INVALID = "device_code_invalid"
    # The environment's dossier is not set up: its administrator must add them.
    NO_DESTINATIONS = "no_destinations"
    NO_ITEM_TYPES = "no_item_types"
    INVALID_EMAIL = "invalid_email"
    RESET_LINK_INVALID = "reset_link_invalid"
    RESET_LINK_USED = "reset_link_used"
    RESET_LINK_EXPIRED = "reset_link_expired"
    INTERNAL_ERROR = "internal_error"


class ErrorDetail(ProtocolModel):
    """One environment's part of a refusal that concerns several environments."""

    code: ErrorCode
    message: str
    environment: str | None = None


class ErrorBody(ProtocolModel):
    """What the API answers on any refusal: a stable code and a message that says what to do."""

    code: ErrorCode
    message: str
    environment: str | None = None
    details: list[ErrorDetail] = Field(default_factory=list)
    # With ``extension_not_allowed``: the extensions the environment accepts (without the
    # dot, lower case; "" for names without one). None on every other refusal.
    allowed_extensions: list[str] | None = None
