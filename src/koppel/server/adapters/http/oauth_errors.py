"""Answers in the OAuth 2.0 error format (RFC 6749 section 5.2), which the device
authorization endpoints use instead of the API's ErrorBody so that any OAuth client
library understands them."""

from __future__ import annotations

import unicodedata

from fastapi.responses import JSONResponse

# RFC 6749 section 5.1: token answers must not be cached (errors neither).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# What a malformed parameter is in OAuth terms; anything else is invalid_request.
_FIELD_ERRORS = {
    "client_id": (401, "invalid_client"),
    "grant_type": (400, "unsupported_grant_type"),
    "scope": (400, "invalid_scope"),
}


def oauth_error(status: int, error: str, description: str) -> JSONResponse:
    """``{"error", "error_description"}`` with ``status``."""
    # RFC 6749 allows only printable ASCII without '"' and '\' in error_description. A
    # translated description keeps its letters without their accents ("e" for "é"), rather
    # than losing them: the agent shows it to the user in the language it asked for.
    folded = unicodedata.normalize("NFKD", description)
    text = "".join(c for c in folded if 0x20 <= ord(c) <= 0x7E and c not in '"\\')
    return JSONResponse({"error": error, "error_description": text}, status, headers=NO_STORE)


def invalid_parameter(field: str, problem: str) -> JSONResponse:
    """The answer to a request whose ``field`` is missing or malformed."""
    status, error = _FIELD_ERRORS.get(field, (400, "invalid_request"))
    return oauth_error(status, error, f"{field}: {problem}")
