"""The shared safe-file-name rules (server and agent use the same module)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from koppel.protocol.filenames import MAX_NAME_BYTES, is_safe, unsafe_reason


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
        "tab\t",
        "dot.",
        "space ",
        "",
        "   ",
        ".",
        "..",
        "x" * (MAX_NAME_BYTES + 1),
        "é" * 128,
    ],
)
def test_unsafe(name: str) -> None:
    assert unsafe_reason(name) is not None


@pytest.mark.parametrize(
    "name",
    [
        "invoice.pdf",
        "Jaarrekening 2026 (concept).xlsx",
        "é" * 127,
        "COM10.txt",
        "CONSOLE.txt",
        ".hidden",
        "x" * MAX_NAME_BYTES,
        "résumé – final.docx",
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
