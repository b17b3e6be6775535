"""Which language: the supported ones, the current one, and choosing from what is asked."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

LANGUAGES: tuple[str, ...] = ("nl", "fr", "en")
DEFAULT_LANGUAGE = "en"  # the language of the messages in the code

_NAMES = {"nl": "Nederlands", "fr": "Français", "en": "English"}

_context: ContextVar[str | None] = ContextVar("koppel_language", default=None)
_process: list[str] = []  # the process's language once chosen (a list: set once, read often)


def supported(tag: str | None) -> str | None:
    """The supported language a tag such as ``nl-BE``, ``fr_FR.UTF-8`` or ``NL`` names."""
    if not tag:
        return None
    primary = tag.strip().replace("_", "-").split(".")[0].split("-")[0].lower()
    return primary if primary in LANGUAGES else None


def language_name(language: str) -> str:
    """The language's name in that language, as a language switch shows it."""
    return _NAMES.get(language, language)


def negotiate(accept_language: str | None) -> str | None:
    """The best supported language of an ``Accept-Language`` header (RFC 9110), if any."""
    if not accept_language:
        return None
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        language = supported(tag)
        if language and quality > 0:
            choices.append((-quality, index, language))
    return min(choices)[2] if choices else None


def system_language() -> str:
    """What the agent speaks: ``KOPPEL_LANG``, else the system's locale, else English."""
    for variable in ("KOPPEL_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        value = os.environ.get(variable)
        if value:
            # LANGUAGE may list several ("nl:en"); the first supported one counts.
            for tag in value.split(":"):
                if language := supported(tag):
                    return language
            if variable == "KOPPEL_LANG":
                break  # an unsupported KOPPEL_LANG still beats the locale: English
            return DEFAULT_LANGUAGE
    if sys.platform == "win32":
        return _windows_language() or DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


def _windows_language() -> str | None:
    # Windows keeps the display language out of the environment: ask for it.
    import ctypes
    import locale

    lcid = ctypes.windll.kernel32.GetUserDefaultUILanguage()  # type: ignore[attr-defined]
    return supported(locale.windows_locale.get(lcid))


def set_process_language(language: str | None) -> None:
    """Fixes the process's language (``None``: choose again from the environment)."""
    _process.clear()
    if language is not None:
        _process.append(supported(language) or DEFAULT_LANGUAGE)


def current_language() -> str:
    """The language of the current context, else the process's."""
    language = _context.get()
    if language is not None:
        return language
    if not _process:
        _process.append(system_language())
    return _process[0]


@contextmanager
def use_language(language: str | None) -> Iterator[str]:
    """Speak ``language`` in this context (a request, a job) and what it calls."""
    chosen = supported(language) or current_language()
    token = _context.set(chosen)
    try:
        yield chosen
    finally:
        _context.reset(token)
