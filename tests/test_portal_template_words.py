"""No word of the portal's page templates is left outside gettext: what remains of a
template once its translated parts (``{{ _(...) }}``, ``{% trans %}``), expressions,
comments, tags and code samples are taken out must hold no English text, and no
``aria-label``/``title``/``alt`` is written in English directly.

Every template is read, the shared frame's (base, sign-in, home) as the pages'.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from koppel.server.adapters.web.templating import TEMPLATES

PAGES = sorted(p.name for p in TEMPLATES.glob("*.html"))
# Words that are the same in every language: the products' names, and a hash's name
# shown next to it under "Technical details".
SAME_IN_EVERY_LANGUAGE = {"Communication Center", "SHA-", "Koppel"}
_REMOVED = [
    r"\{#.*?#\}",
    r"\{%-? *trans\b.*?endtrans *-?%\}",
    r"\{\{.*?\}\}",
    r"\{%.*?%\}",
    r"<code\b.*?</code>",
    r"<pre\b.*?</pre>",
]
_ATTRIBUTE = re.compile(r'\b(aria-label|title|alt)="([^"{]*[A-Za-z][^"{]*)"')


def untranslated(text: str) -> list[str]:
    """The English left in a template once its translated and non-text parts are gone."""
    for pattern in _REMOVED:
        text = re.sub(pattern, " ", text, flags=re.DOTALL)
    found = [match.group(0) for match in _ATTRIBUTE.finditer(text)]
    text = re.sub(r"<[^>]+>", " ", text)
    words = (w.strip() for w in re.findall(r"[A-Za-z][A-Za-z' ,.;:-]{2,}", text))
    return found + [w for w in words if w and w not in SAME_IN_EVERY_LANGUAGE]


def test_the_check_sees_english() -> None:
    sample = '<p>Hello {{ _("Hi") }}</p><button aria-label="Remove it">{{ _("X") }}</button>'
    assert untranslated(sample) == ['aria-label="Remove it"', "Hello"]


@pytest.mark.parametrize("name", PAGES)
def test_every_word_of_the_page_templates_is_translated(name: str) -> None:
    assert untranslated((Path(TEMPLATES) / name).read_text(encoding="utf-8")) == []
