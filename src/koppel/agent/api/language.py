"""The language the agent asks the server to answer in (``Accept-Language``).

The server's refusals (their ``message``) then come back in the user's language; their
``code``, which the agent acts on, is the same in every language. English follows as
the fallback, for a server that does not speak the agent's language.
"""

from __future__ import annotations

from koppel.i18n import DEFAULT_LANGUAGE, current_language

ACCEPT_LANGUAGE = "Accept-Language"


def accept_language(language: str | None = None) -> str:
    """The header's value for ``language`` (the agent's own by default): ``nl, en;q=0.5``."""
    chosen = language or current_language()
    if chosen == DEFAULT_LANGUAGE:
        return DEFAULT_LANGUAGE
    return f"{chosen}, {DEFAULT_LANGUAGE};q=0.5"
