"""Blob stores; ``LocalBlobStore`` (a folder) implements the domain's ``BlobStore``."""

from koppel.server.adapters.blobs.local import LocalBlobStore

__all__ = ["LocalBlobStore"]
