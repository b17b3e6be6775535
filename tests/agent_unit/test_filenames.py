"""The shared safe-file-name rules (server and agent use the same module), and the
shortening rule the agent applies before it writes a name to disk."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from koppel.protocol.filenames import (
    MAX_NAME_BYTES,
    fit_name,
    is_safe,
    numbered_name,
    shorten_name,
    split_extension,
    unsafe_reason,
    utf8_size,
    utf16_size,
)

SPOOFING = [
    "\u202etxt.exe",  # right-to-left override: shows as "exe.txt"
    "invoice\u202egpj.exe",
    "a\u2066b.pdf",  # left-to-right isolate
    "a\x85b.txt",  # C1 control: next line
    "a\x9fb.txt",
    "zero\u200bwidth.pdf",  # zero-width space
    "zero\u200dwidth.pdf",  # zero-width joiner
    "\ufeffbom.txt",
    "soft\xadhyphen.txt",
    "line\u2028separator.txt",
    "a\ud800b.txt",  # a lone surrogate is no character at all
]
RESERVED = [
    "COM¹.txt",
    "com²",
    "LPT³.pdf",
    "lpt¹",
    "CONIN$.txt",
    "conin$",
    "CONOUT$",
    "ConOut$.log",
    "COM0",
    "com0.txt",
    "LPT0.doc",
    "CON .txt",
    "nul  .tar.gz",
    "AUX..txt",
    "Prn.",
    "NUL ",
]


@pytest.mark.parametrize(
    "name",
    [
        "CON",
        "con.txt",
        "Prn.pdf",
        "AUX",
        "NUL.tar.gz",
        "COM1",
        "com9.doc",
        "LPT1",
        "lpt9.x",
        "a<b",
        "a>b",
        'a"b',
        "a/b",
        "a\\b",
        "a|b",
        "a?b",
        "a*b",
        "a:b",
        "a\x00b",
        "a\x1fb",
        "a\x7fb",
        "tab\t",
        "dot.",
        "space ",
        "",
        "   ",
        ".",
        "..",
        "x" * (MAX_NAME_BYTES + 1),
        "é" * 128,
        *SPOOFING,
        *RESERVED,
    ],
)
def test_unsafe(name: str) -> None:
    assert unsafe_reason(name) is not None


@pytest.mark.parametrize("name", SPOOFING)
def test_the_refusal_names_the_hidden_character(name: str) -> None:
    reason = unsafe_reason(name)
    assert reason is not None and "U+" in reason and reason.isprintable()


@pytest.mark.parametrize(
    "name",
    [
        "invoice.pdf",
        "Jaarrekening 2026 (concept).xlsx",
        "é" * 127,
        "COM10.txt",
        "COM¹0.txt",
        "COM⁴.txt",
        "CONSOLE.txt",
        "CONIN.txt",
        "my CON.txt",
        ".hidden",
        "x" * MAX_NAME_BYTES,
        "résumé – final.docx",
        "日本語のファイル.pdf",
        "emoji 🎉.png",
        "no\u00a0break.txt",  # a no-break space is a visible space
    ],
)
def test_safe(name: str) -> None:
    assert is_safe(name)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300))
def test_accepted_names_have_no_forbidden_characters(name: str) -> None:
    if is_safe(name):
        assert not set(name) & set('<>:"/\\|?*')
        assert all(ord(c) >= 32 and c != "\x7f" for c in name)
        assert len(name.encode()) <= MAX_NAME_BYTES and not name.endswith((".", " "))


@given(st.text(max_size=40))
@example("\u202etxt.exe")
@example("zero\u200bwidth")
def test_accepted_names_contain_no_control_or_format_character(name: str) -> None:
    if is_safe(name):
        assert not {unicodedata.category(c) for c in name} & {"Cc", "Cf", "Cs"}


@given(st.sampled_from(["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "COM", "LPT"]), st.data())
def test_reserved_names_in_any_case_and_form(base: str, data: st.DataObject) -> None:
    if base in ("COM", "LPT"):
        base += data.draw(st.sampled_from("0123456789¹²³"))
    cased = "".join(data.draw(st.sampled_from([c.lower(), c.upper()])) for c in base)
    spaces = data.draw(st.sampled_from(["", " ", "  "]))
    extension = data.draw(st.sampled_from(["", ".txt", ".tar.gz", ". pdf"]))
    assert not is_safe(cased + spaces + extension)


# -- shortening ------------------------------------------------------------------------------

LONG = "é" * 125 + ".txt"


def test_a_name_that_fits_is_unchanged() -> None:
    assert shorten_name(LONG) == LONG and fit_name(LONG) == LONG
    assert fit_name("a" * 236 + ".pdf") == "a" * 236 + ".pdf"


def test_shortened_by_bytes_keeping_the_extension() -> None:
    # Room for a 22-byte temporary suffix: the stem gives way, whole characters only.
    short = shorten_name(LONG, MAX_NAME_BYTES - 22)
    assert short == "é" * 114 + ".txt" and utf8_size(short) == 232
    assert shorten_name("a" * 300 + ".pdf") == "a" * 251 + ".pdf"
    assert shorten_name("Report v1.2 final " + "x" * 300, 20) == "Report v1.2 final xx"
    # An accent is never separated from its letter.
    decomposed = "e\u0301" * 100 + ".txt"
    assert shorten_name(decomposed, 15) == "e\u0301" * 3 + ".txt"
    # Windows counts UTF-16 units: 125 "é" fit there as they are.
    assert shorten_name("é" * 300, 255, utf16_size) == "é" * 255


def test_fit_name_makes_a_safe_name_of_anything() -> None:
    assert fit_name("../../etc/passwd") == ".._.._etc_passwd"
    assert fit_name("C:\\Users\\x\\evil.exe") == "C__Users_x_evil.exe"
    assert fit_name("\u202etxt.exe") == "_txt.exe"
    assert fit_name("CON.txt") == "_CON.txt"
    assert fit_name("CONTRACT.pdf", 7) == "_CO.pdf"
    assert fit_name("..", fallback="item-7") == "item-7"
    assert fit_name("  ", fallback="item-7") == "item-7"
    assert fit_name("", fallback="") == "file"
    assert fit_name("é" * 150) == "é" * 127
    assert fit_name("é" * 150, fallback="F10001") == "é" * 127


def test_numbered_names_keep_number_and_extension() -> None:
    assert numbered_name("a.pdf", 2) == "a (2).pdf"
    assert numbered_name("archive.tar.gz", 3) == "archive.tar (3).gz"
    numbered = numbered_name(LONG, 2)
    assert numbered == "é" * 123 + " (2).txt" and utf8_size(numbered) <= MAX_NAME_BYTES
    assert numbered_name("x" * 20, 12, 10) == "xxxxx (12)"


def test_split_extension() -> None:
    assert split_extension("a.pdf") == ("a", ".pdf")
    assert split_extension("archive.tar.gz") == ("archive.tar", ".gz")
    assert split_extension(".bashrc") == (".bashrc", "")
    assert split_extension("Report v1.2 final") == ("Report v1.2 final", "")
    assert split_extension("noext") == ("noext", "")


names = st.text(min_size=0, max_size=300)
limits = st.integers(min_value=1, max_value=MAX_NAME_BYTES)


@given(names, limits, st.sampled_from([utf8_size, utf16_size]))
@example(LONG, MAX_NAME_BYTES - 22, utf8_size)
@example("CONTRACT.pdf", 7, utf8_size)
def test_fit_name_is_safe_within_the_limit_and_never_empty(
    name: str, limit: int, measure: object
) -> None:
    assert callable(measure)
    fitted = fit_name(name, limit, measure=measure)
    assert fitted and is_safe(fitted), (name, fitted)
    assert measure(fitted) <= limit and utf8_size(fitted) <= MAX_NAME_BYTES


@given(names.filter(is_safe), limits)
@example(LONG, MAX_NAME_BYTES - 22)
@example("a" * 236 + ".pdf", 200)
def test_shortening_a_safe_name_keeps_its_extension_and_start(name: str, limit: int) -> None:
    fitted = fit_name(name, limit)
    if utf8_size(name) <= limit:
        assert fitted == name
        return
    stem, extension = split_extension(name)
    room = limit - utf8_size(extension)
    # Room for the extension and the stem's first character (4 bytes at most).
    if extension and room >= 4 and stem[:1] not in (" ", ".") and not fitted.startswith("_"):
        assert fitted.endswith(extension), (name, fitted)
        assert stem.startswith(fitted[: -len(extension)]), (name, fitted)


@given(names.filter(is_safe), st.integers(min_value=2, max_value=10_000), limits)
def test_numbered_names_are_safe_and_within_the_limit(name: str, number: int, limit: int) -> None:
    numbered = numbered_name(name, number, limit)
    assert numbered and is_safe(numbered) and utf8_size(numbered) <= limit, numbered
    if limit >= 64:
        assert f"({number})" in numbered


def test_a_stem_of_dots_and_spaces_keeps_its_number() -> None:
    numbered = numbered_name(". " * 40 + "a.txt", 2, 20)
    assert numbered == ". . . . . .  (2).txt" and is_safe(numbered)
