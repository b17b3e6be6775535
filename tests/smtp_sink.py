"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for the tests of
the password-reset e-mails."""

from __future__ import annotations

import email
import email.policy
import re
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from harness import free_port

_LINK = re.compile(r"https?://\S+/reset-password\?token=[A-Za-z0-9_-]+")


@dataclass
class Received:
    """One e-mail as the server received it."""

    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        """The plain-text part."""
        part = self.message.get_body(("plain",))
        assert part is not None
        return str(part.get_content())  # type: ignore[attr-defined]

    @property
    def html(self) -> str:
        """The HTML part."""
        part = self.message.get_body(("html",))
        assert part is not None
        return str(part.get_content())  # type: ignore[attr-defined]

    @property
    def link(self) -> str:
        """The reset link of the text part."""
        found = _LINK.search(self.text)
        assert found, self.text
        return found.group(0)


@dataclass
class SmtpSink:
    """The messages received so far; ``url`` is the server's ``KOPPEL_SMTP_URL``."""

    port: int
    messages: list[Received] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        """Wait until ``count`` messages arrived (a server process's worker sends them)."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(self.messages) >= count, f"{len(self.messages)} of {count} e-mails arrived"
        return self.messages


@dataclass(frozen=True)
class Credentials:
    """The one user and password an SMTP server with sign-in accepts."""

    user: str
    password: str

    def __call__(self, _server: Any, _session: Any, _envelope: Any, _mechanism: str,
                 data: Any) -> AuthResult:  # fmt: skip
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            self.user.encode(), self.password.encode())  # fmt: skip
        return AuthResult(success=ok)


@contextmanager
def smtp_sink(tls: tuple[Path, Path] | None = None,
              credentials: Credentials | None = None) -> Iterator[SmtpSink]:  # fmt: skip
    """An SMTP server on a free loopback port, stopped at the end; with ``tls`` (a
    certificate and its key) it insists on STARTTLS, with ``credentials`` on a sign-in."""
    sink = SmtpSink(free_port())
    extra: dict[str, Any] = {}
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*tls)
        extra.update(tls_context=context, require_starttls=True)
    if credentials is not None:
        extra.update(authenticator=credentials, auth_required=True)
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port, **extra)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
