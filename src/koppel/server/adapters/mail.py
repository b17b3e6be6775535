"""Sending e-mail over SMTP (``KOPPEL_SMTP_URL``): implements the domain's ``Mailer``.

``smtp://user:password@host:587?starttls=true`` upgrades the connection with STARTTLS
before signing in (refusing to go on in clear text when the server cannot),
``smtps://…`` speaks TLS from the start (port 465), plain ``smtp://`` without a user
suits a relay on the same network. Certificates are checked against the system's
authorities.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import parse_qs, unquote, urlparse

from koppel.server.config import ServerSettings
from koppel.server.domain.mail import MailMessage

TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to hand e-mail over."""

    host: str
    port: int
    tls: bool  # TLS from the start (smtps)
    starttls: bool
    user: str | None
    password: str | None

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        """Parse ``KOPPEL_SMTP_URL`` (checked by ``ServerSettings``)."""
        parsed = urlparse(url)
        tls = parsed.scheme == "smtps"
        flag = parse_qs(parsed.query).get("starttls", ["false"])[0].lower()
        return cls(
            host=parsed.hostname or "localhost",
            port=parsed.port or (465 if tls else 25),
            tls=tls,
            starttls=flag == "true",
            user=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
        )


class SmtpMailer:
    """Sends each message in a connection of its own (resets are rare)."""

    def __init__(self, server: SmtpServer, sender: str,
                 context: ssl.SSLContext | None = None) -> None:  # fmt: skip
        self.server = server
        self.sender = sender
        self.context = context or ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        s = self.server
        if s.tls:
            return smtplib.SMTP_SSL(s.host, s.port, timeout=TIMEOUT_SECONDS, context=self.context)
        return smtplib.SMTP(s.host, s.port, timeout=TIMEOUT_SECONDS)

    def send(self, message: MailMessage) -> None:
        """Hand ``message`` to the server; raises ``smtplib.SMTPException`` or ``OSError``
        when it was not accepted (the job then tries again later)."""
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.to
        mail["Subject"] = message.subject
        mail["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2].strip(">") or None)
        mail["Auto-Submitted"] = "auto-generated"
        mail.set_content(message.text)
        mail.add_alternative(message.html, subtype="html")
        with self._connect() as smtp:
            if self.server.starttls:
                smtp.starttls(context=self.context)
            if self.server.user:
                smtp.login(self.server.user, self.server.password or "")
            smtp.send_message(mail)


def mailer(settings: ServerSettings) -> SmtpMailer | None:
    """The mailer of ``KOPPEL_SMTP_URL``, or None when the server sends no e-mail."""
    if settings.smtp_url is None:
        return None
    server = SmtpServer.from_url(settings.smtp_url.get_secret_value())
    return SmtpMailer(server, settings.resolved_mail_from)
