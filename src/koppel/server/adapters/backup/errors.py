"""The one refusal of backups and restores, worded for the administrator."""

from __future__ import annotations


class BackupRefused(Exception):
    """A backup, restore, export or import that cannot go on; nothing was changed.

    ``code`` is the machine-readable reason (``--json``); ``missing`` marks a refusal
    about something that is not there (exit code 4 rather than 5)."""

    def __init__(self, message: str, code: str = "validation_error", missing: bool = False):
        super().__init__(message)
        self.message = message
        self.code = code
        self.missing = missing
