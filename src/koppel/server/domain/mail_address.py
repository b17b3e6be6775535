"""E-mail addresses of accounts: where a forgotten password's reset link goes.

The check is deliberately plain (one ``@``, something before it, a domain with a dot,
no spaces, at most 254 characters, the limit of SMTP's forward path): it catches typing
mistakes without refusing unusual but valid addresses. Whether the address receives mail
only sending can tell.
"""

from __future__ import annotations

from koppel.i18n import gettext as _
from koppel.protocol.errors import ErrorCode
from koppel.server.domain.errors import DomainError

MAX_LENGTH = 254


def _problem(address: str) -> str | None:
    if len(address) > MAX_LENGTH:
        return _("it is longer than {limit} characters").format(limit=MAX_LENGTH)
    if any(c.isspace() for c in address) or any(c in address for c in '<>,;"()[]\\'):
        return _("it contains a space or a character an address cannot have")
    if address.count("@") != 1:
        return _("an address has exactly one @")
    local, domain = address.split("@")
    if not local:
        return _("the part before the @ is missing")
    labels = domain.split(".")
    if len(labels) < 2 or not all(labels) or any(p.startswith("-") for p in labels):
        return _("the part after the @ is not a domain name such as example.com")
    return None


def email_address(text: str) -> str:
    """A well-formed address (spaces around it removed), or ``invalid_email`` naming what
    is wrong. The domain is compared without regard to case, so it is kept in lower case."""
    address = text.strip()
    problem = _problem(address)
    if problem is not None:
        raise DomainError(
            ErrorCode.INVALID_EMAIL,
            _('"{address}" is not an e-mail address: {problem}.').format(
                address=address[:80], problem=problem
            ),
        )
    local, domain = address.split("@")
    return f"{local}@{domain.lower()}"


def optional_email(text: str | None) -> str | None:
    """``email_address``, where an empty value means no address."""
    if text is None or not text.strip():
        return None
    return email_address(text)
