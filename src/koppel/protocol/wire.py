"""Names on the wire that need no model: the API's path prefix and the response headers
of downloads.

Kept apart from the pydantic models so that a command which only downloads (``koppel
open``) speaks to the server without loading pydantic.
"""

from __future__ import annotations

API_PREFIX = "/api/v1"

# Response headers of downloads: the content's SHA-256 (hex), and of an attachment its
# version number.
SHA256_HEADER = "Koppel-Sha256"
VERSION_HEADER = "Koppel-Version"
# Response headers of an item's content (``GET items/{id}/content``): which attachment
# was chosen, its id and its name (percent-encoded UTF-8).
ATTACHMENT_ID_HEADER = "Koppel-Attachment-Id"
ATTACHMENT_NAME_HEADER = "Koppel-Attachment-Name"
