"""The translators' tool: extract, update, check and compile the catalogs (needs Babel).

    python -m koppel.i18n.catalogs update   # new messages into nl and fr, gone ones out
    python -m koppel.i18n.catalogs check    # what is untranslated, fuzzy or stale (exit 1)
    python -m koppel.i18n.catalogs compile  # the .mo files (the build does this too)

Messages are taken from every ``_``/``gettext``/``ngettext``/``N_`` call in the Python
code and every ``_``/``trans`` in the portal's templates. The ``.po`` files are kept
sorted by message and without line numbers, so that two changes rarely touch the same
lines; ``merge-driver`` joins two versions of a catalog for git (``.gitattributes``).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from koppel.i18n._catalogs import DOMAIN, LOCALE, catalog_path
from koppel.i18n._language import DEFAULT_LANGUAGE, LANGUAGES

SOURCES = LOCALE.parent  # src/koppel
TRANSLATED = tuple(language for language in LANGUAGES if language != DEFAULT_LANGUAGE)
TEMPLATE_OPTIONS = {"extensions": "jinja2.ext.i18n", "trimmed": "true"}
METHODS = [
    ("**/templates/**.html", "jinja2.ext:babel_extract"),
    ("**.py", "python"),
]
_PLACEHOLDER = re.compile(r"\{[a-z_][a-z_0-9]*(?:![rsa])?(?::[^{}]*)?\}|%\([a-z_0-9]+\)[sd]|%[sd]")


def extract() -> Catalog:
    """Every message marked in the code and the templates."""
    catalog = Catalog(domain=DOMAIN, project="Koppel", charset="utf-8")
    found = extract_from_dir(
        str(SOURCES),
        method_map=METHODS,
        options_map={"**/templates/**.html": TEMPLATE_OPTIONS},
        strip_comment_tags=True,
        comment_tags=("Translators:",),
    )
    for filename, _lineno, message, comments, context in found:
        if "i18n/catalogs.py" in filename.replace("\\", "/"):
            continue
        catalog.add(message, None, [(filename, 0)], auto_comments=comments, context=context)
    return catalog


def load(language: str) -> Catalog:
    """A language's catalog as it is in the package (empty when there is none yet)."""
    path = catalog_path(language)
    if not path.exists():
        return Catalog(locale=language, domain=DOMAIN, project="Koppel", charset="utf-8")
    with path.open("rb") as file:
        return read_po(file, locale=language, domain=DOMAIN)


_HEADER = """\
# {language} messages of Koppel (MIT). Edit the msgstr lines; the terms used are kept in
# docs/glossary.md. `python -m koppel.i18n.catalogs update` adds the code's new messages."""
# Fixed dates: a header that changes on every update would make every merge conflict.
_DATE = datetime(2026, 12, 3, tzinfo=UTC)


def save(catalog: Catalog, path: Path) -> None:
    """Writes a catalog sorted and without line numbers (stable, merge-friendly)."""
    catalog.fuzzy = False
    catalog.creation_date = catalog.revision_date = _DATE
    catalog.version = "2026"
    catalog.last_translator = catalog.language_team = "Koppel <koppel@example.invalid>"
    catalog.header_comment = _HEADER.format(language=catalog.locale_identifier or "")
    if catalog.locale_identifier == "fr":
        _french_spaces(catalog)
        # The classic two forms (0 and 1 singular): CLDR's third, for millions, is not
        # worth a third form on every message.
        catalog._num_plurals = 2  # type: ignore[assignment]
        catalog._plural_expr = "(n > 1)"  # type: ignore[assignment]
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".po.tmp")
    with temporary.open("wb") as file:
        write_po(file, catalog, width=100, sort_output=True, include_lineno=False)
    temporary.replace(path)


_BEFORE_FRENCH_PUNCTUATION = re.compile(r"(?<=\S)[ \u202f]?([:;!?])(?=\s|$|`|\*\*)")


def _french_spaces(catalog: Catalog) -> None:
    # French typography: a non-breaking space before : ; ! ? (never a line break there).
    for message in catalog:
        if message.id and message.string:
            forms = [
                _BEFORE_FRENCH_PUNCTUATION.sub("\u00a0\\1", form) for form in _forms(message.string)
            ]
            message.string = forms[0] if isinstance(message.string, str) else tuple(forms)


def update() -> None:
    """Brings every catalog in line with the code: new messages empty, gone ones out."""
    template = extract()
    for language in TRANSLATED:
        catalog = load(language)
        catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
        catalog.obsolete.clear()
        save(catalog, catalog_path(language))


@dataclass
class Problems:
    """What keeps a catalog from being complete, per language."""

    missing: dict[str, list[str]] = field(default_factory=dict)  # not in the catalog
    untranslated: dict[str, list[str]] = field(default_factory=dict)
    fuzzy: dict[str, list[str]] = field(default_factory=dict)
    stale: dict[str, list[str]] = field(default_factory=dict)  # no longer in the code
    placeholders: dict[str, list[str]] = field(default_factory=dict)

    def any(self) -> bool:
        """Whether there is anything to fix."""
        return any(
            values
            for kind in (self.missing, self.untranslated, self.fuzzy, self.stale, self.placeholders)
            for values in kind.values()
        )

    def lines(self) -> Iterable[str]:
        """One line per problem, for people."""
        for name in ("missing", "untranslated", "fuzzy", "stale", "placeholders"):
            for language, ids in getattr(self, name).items():
                for msgid in ids:
                    yield f"{language}: {name}: {msgid!r}"


def _ids(catalog: Catalog) -> dict[str, Message]:
    return {_key(message.id): message for message in catalog if message.id}


def _key(msgid: object) -> str:
    return _forms(msgid)[0]


def _forms(value: object) -> tuple[str, ...]:
    # Babel keeps a plural message's ids and strings as tuples (or lists).
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value) if isinstance(value, tuple | list) else ("",)


def _placeholders(text: str) -> list[str]:
    return sorted(_PLACEHOLDER.findall(text))


def check() -> Problems:
    """Compares the catalogs with the code."""
    problems = Problems()
    wanted = _ids(extract())
    for language in TRANSLATED:
        have = _ids(load(language))
        problems.missing[language] = sorted(set(wanted) - set(have))
        problems.stale[language] = sorted(set(have) - set(wanted))
        problems.untranslated[language] = []
        problems.fuzzy[language] = []
        problems.placeholders[language] = []
        for key, message in sorted(have.items()):
            forms = _forms(message.string)
            if not all(forms):
                problems.untranslated[language].append(key)
            if message.fuzzy:
                problems.fuzzy[language].append(key)
            if not _same_placeholders(_forms(message.id), forms):
                problems.placeholders[language].append(key)
    return problems


def _same_placeholders(ids: tuple[str, ...], forms: tuple[str, ...]) -> bool:
    if len(ids) == 1:
        return all(not f or _placeholders(f) == _placeholders(ids[0]) for f in forms)
    # Plural forms may leave out the count ("Un fichier" for "{n} file") but add nothing.
    allowed = set(_placeholders(ids[-1]))
    return all(set(_placeholders(f)) <= allowed for f in forms)


def compile_all() -> list[Path]:
    """Writes every language's ``.mo`` next to its ``.po``."""
    written = []
    for po in sorted(LOCALE.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        with po.open("rb") as file:
            catalog = read_po(file)
        mo = po.with_suffix(".mo")
        with mo.open("wb") as file:
            write_mo(file, catalog, use_fuzzy=False)
        written.append(mo)
    return written


def merge(base: Path, ours: Path, theirs: Path) -> None:
    """git's merge driver, message by message against the common ancestor: a message one
    side added is kept (one side removed: removed); a translation only one side changed
    takes that side's; where both changed it, ours, unless ours is empty."""
    merged, other = _read(ours), _read(theirs)
    before = {m.id: m for m in _read(base) if m.id} if base.stat().st_size else {}
    for message in other:
        if not message.id:
            continue
        mine = merged.get(message.id, message.context)
        old = before.get(message.id)
        if mine is None:
            if old is None:  # theirs added it; else ours removed it
                merged[message.id] = message
            continue
        ours_changed = old is None or _forms(mine.string) != _forms(old.string)
        theirs_changed = old is None or _forms(message.string) != _forms(old.string)
        if (theirs_changed and not ours_changed) or (
            not _translated(mine) and _translated(message)
        ):
            mine.string, mine.flags = message.string, set(message.flags)
    save(merged, ours)


def _read(path: Path) -> Catalog:
    with path.open("rb") as file:
        return read_po(file)


def _translated(message: Message) -> bool:
    return all(_forms(message.string)) and not message.fuzzy


def main(argv: list[str]) -> int:
    """The command line of the tool."""
    command = argv[0] if argv else "check"
    if command == "update":
        update()
        return 0
    if command == "compile":
        for path in compile_all():
            print(path)
        return 0
    if command == "merge-driver" and len(argv) == 4:
        merge(Path(argv[1]), Path(argv[2]), Path(argv[3]))
        return 0
    if command == "check":
        problems = check()
        for line in problems.lines():
            print(line)
        return 1 if problems.any() else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
