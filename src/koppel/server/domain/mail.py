"""Sending e-mail: the message the domain composes and the port an adapter implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class MailMessage:
    """One e-mail to one recipient, as plain text with an HTML alternative."""

    to: str
    subject: str
    text: str
    html: str


class Mailer(Protocol):
    """Sends e-mail (``adapters/mail.py``: SMTP)."""

    def send(self, message: MailMessage) -> None:
        """Hand the message to the mail server; raises when it was not accepted."""
        ...
