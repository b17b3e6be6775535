"""Koppel in the user's language: Dutch, French and English through gettext catalogs.

Messages are written in English in the code and marked for translation::

    from koppel.i18n import gettext as _, ngettext

    _("{name} is linked.").format(name=env.name)
    ngettext("{n} file sent.", "{n} files sent.", n).format(n=n)

Placeholders are ``{name}`` (``str.format``) in Python and ``%(name)s`` in templates, so
that translators can move them. Constants evaluated at import are marked with ``N_`` and
translated where they are shown. The language is the one of the current context
(``use_language``: the server sets it per request) or else the process's (``KOPPEL_LANG``,
then the system's locale: what the agent follows). Error codes and ``--json`` output are
never translated.
"""

from __future__ import annotations

from koppel.i18n._catalogs import translations
from koppel.i18n._formats import (
    DEFAULT_TIME_ZONE,
    LOCAL,
    current_time_zone,
    format_date,
    format_number,
    format_when,
    local_time,
    use_time_zone,
    valid_time_zone,
)
from koppel.i18n._language import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    current_language,
    language_name,
    negotiate,
    set_process_language,
    supported,
    system_language,
    use_language,
)

__all__ = [
    "DEFAULT_LANGUAGE",
    "DEFAULT_TIME_ZONE",
    "LANGUAGES",
    "LOCAL",
    "N_",
    "current_language",
    "current_time_zone",
    "format_date",
    "format_number",
    "format_when",
    "gettext",
    "language_name",
    "local_time",
    "negotiate",
    "ngettext",
    "set_process_language",
    "supported",
    "system_language",
    "translations",
    "use_language",
    "use_time_zone",
    "valid_time_zone",
]


def gettext(message: str) -> str:
    """``message`` in the current language (itself in English or when untranslated)."""
    return translations(current_language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n`` in the current language's plural rules."""
    return translations(current_language()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks ``message`` for extraction only: it is translated later, where it is shown."""
    return message
