"""Resumable uploads: the tus 1.0 protocol (core, creation, creation-with-upload,
checksum, termination, expiration) at ``/api/v1/environments/{env}/uploads``.

Upload-Metadata keys the server reads: ``filename`` (required), ``filetype`` (media type),
``submission`` (the agent's submission id, for its own bookkeeping).
"""

from __future__ import annotations

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = (
    "creation",
    "creation-with-upload",
    "checksum",
    "termination",
    "expiration",
)
TUS_CHECKSUMS = ("sha1", "sha256")
# The server's default limit per file (KOPPEL_MAX_UPLOAD_MB).
DEFAULT_MAX_UPLOAD_BYTES = 75 * 1024 * 1024


def uploads_path(environment: str) -> str:
    """The tus creation endpoint of an environment."""
    return f"/api/v1/environments/{environment}/uploads"
