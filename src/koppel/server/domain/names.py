"""The accepted forms of environment codes, logins and addresses."""

from __future__ import annotations

import re

from koppel.i18n import gettext as _
from koppel.protocol.errors import ErrorCode
from koppel.protocol.urls import url_problem
from koppel.server.domain.errors import DomainError

_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,31}$")
_LOGIN = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")


def environment_code(text: str) -> str:
    """Normalise an environment code (upper case) or refuse it."""
    code = text.strip().upper()
    if not _CODE.match(code):
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            _(
                "{text!r} is not a valid environment code: use 2 to 32 letters, digits, '-' or "
                "'_', e.g. F10001."
            ).format(text=text),
        )
    return code


def login(text: str) -> str:
    """Normalise a login (lower case) or refuse it."""
    value = text.strip().lower()
    if not _LOGIN.match(value):
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            _(
                "{text!r} is not a valid login: use up to 64 letters, digits, '.', '_', '@' or '-'."
            ).format(text=text),
        )
    return value


def url(text: str, what: str, *, allow_query: bool = False) -> str:
    """An absolute http(s) address without a trailing slash, or a refusal: the rule of
    :mod:`koppel.protocol.urls`, which the agent applies to settings files too."""
    value = text.strip().rstrip("/")
    problem = url_problem(value, allow_query=allow_query)
    if problem:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            _(
                "{value!r} is not a valid {what} ({problem}): give an absolute address such as "
                "https://koppel.example.com."
            ).format(value=text[:100], what=what, problem=problem),
        )
    return value
