"""Loading the compiled catalogs (``koppel/locale/LANG/LC_MESSAGES/koppel.mo``).

The ``.mo`` files are compiled from the ``.po`` files when the package is built (the hatch
build hook). In a checkout where a ``.po`` is newer than its ``.mo`` (or there is none)
the ``.po`` is compiled in memory with Babel, so an edited translation shows at once.
"""

from __future__ import annotations

import gettext as _gettext
import io
from functools import cache
from pathlib import Path

LOCALE = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "koppel"


def catalog_path(language: str, suffix: str = ".po") -> Path:
    """Where a language's catalog lives in the package."""
    return LOCALE / language / "LC_MESSAGES" / f"{DOMAIN}{suffix}"


@cache
def translations(language: str) -> _gettext.NullTranslations:
    """The messages of ``language``; English (the code's own) needs none."""
    po, mo = catalog_path(language), catalog_path(language, ".mo")
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as file:
            return _gettext.GNUTranslations(file)
    if po.exists():
        return _gettext.GNUTranslations(io.BytesIO(compile_po(po)))
    return _gettext.NullTranslations()


def compile_po(po: Path) -> bytes:
    """A ``.po`` file compiled to ``.mo`` bytes (needs Babel: a build or a checkout)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as file:
        catalog = read_po(file)
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()
