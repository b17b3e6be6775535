"""The translations: complete catalogs, the language chosen, the merge of two versions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from app_client import InProcess
from koppel.i18n import (
    current_language,
    format_when,
    gettext,
    negotiate,
    set_process_language,
    system_language,
    translations,
    use_language,
    use_time_zone,
)
from koppel.i18n.catalogs import check, save


def test_every_message_of_the_code_is_translated_in_dutch_and_french() -> None:
    # Extracts every marked message from the code and templates and compares: a message
    # missing from a catalog, untranslated, fuzzy, no longer used, or with placeholders
    # that differ from the English fails.
    problems = check()
    assert not problems.any(), "\n".join(problems.lines())


def test_a_catalog_missing_a_message_is_reported(tmp_path: Path) -> None:
    # The check itself can fail: an entry without translation and a wrong placeholder.
    from koppel.i18n import catalogs

    original = catalogs.load

    def broken(language: str) -> Catalog:
        catalog = original(language)
        catalog["Skip to content"].string = ""
        catalog.add("Not in the code {name}", "Niet in de code {naam}")
        return catalog

    catalogs.load = broken
    try:
        problems = check()
    finally:
        catalogs.load = original
    assert problems.untranslated["nl"] == ["Skip to content"]
    assert "Not in the code {name}" in problems.stale["nl"]
    assert "Not in the code {name}" in problems.placeholders["nl"]


def test_messages_come_out_in_the_chosen_language() -> None:
    with use_language("nl"):
        assert gettext("Skip to content") == "Naar de inhoud"
    with use_language("fr"):
        assert gettext("Skip to content") == "Aller au contenu"
    with use_language("en"):
        assert gettext("Skip to content") == "Skip to content"
    assert translations("nl").gettext("no such message") == "no such message"


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("nl-NL,nl;q=0.9,en;q=0.8", "nl"),
        ("fr-BE", "fr"),
        ("de-DE,fr;q=0.5,nl;q=0.7", "nl"),
        ("en-US,en;q=0.9", "en"),
        ("de-DE", None),
        ("", None),
        ("nl;q=0, fr;q=0.2", "fr"),
        ("nl;q=abc", None),
    ],
)
def test_accept_language_is_negotiated(header: str, language: str | None) -> None:
    assert negotiate(header) == language


def test_the_agent_follows_koppel_lang_then_the_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("KOPPEL_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("LANG", "fr_BE.UTF-8")
    assert system_language() == "fr"
    monkeypatch.setenv("KOPPEL_LANG", "nl")
    assert system_language() == "nl"
    monkeypatch.setenv("KOPPEL_LANG", "de")
    assert system_language() == "en"  # an unsupported choice is not overridden by LANG
    monkeypatch.delenv("KOPPEL_LANG")
    monkeypatch.setenv("LANG", "C.UTF-8")
    assert system_language() == "en"
    set_process_language("fr")
    try:
        assert current_language() == "fr"
        with use_language("nl"):
            assert current_language() == "nl"
        assert current_language() == "fr"
    finally:
        set_process_language(None)


def test_times_are_local_and_written_as_the_language_writes_them() -> None:
    from datetime import UTC, datetime

    moment = datetime(2026, 7, 1, 22, 30, tzinfo=UTC)
    with use_language("nl"):
        assert format_when(moment) == "2 jul 2026 00:30"  # Amsterdam is UTC+2 in summer
        with use_time_zone("Europe/London"):
            assert format_when(moment) == "1 jul 2026 23:30"
        with use_time_zone("Not/AZone"):
            assert format_when(moment) == "2 jul 2026 00:30"
    with use_language("fr"):
        assert format_when(moment) == "2 juil. 2026 00:30"
    assert format_when(None) == "—"


def test_the_request_language_reaches_the_pages(demo_app: InProcess) -> None:
    client = demo_app.client()
    dutch = client.get("/portal/F10001/sign-in", headers={"Accept-Language": "nl-NL,nl;q=0.9"})
    assert "Naar de inhoud" in dutch.text
    french = client.get("/portal/F10001/sign-in", headers={"Accept-Language": "fr-BE"})
    assert "Aller au contenu" in french.text
    english = client.get("/portal/F10001/sign-in")
    assert "Skip to content" in english.text


def test_two_versions_of_a_catalog_are_joined(tmp_path: Path) -> None:
    def catalog(*entries: tuple[str, str]) -> Path:
        made = Catalog(locale="nl", domain="koppel")
        for msgid, msgstr in entries:
            made.add(msgid, msgstr)
        path = tmp_path / f"{len(list(tmp_path.iterdir()))}.po"
        save(made, path)
        return path

    base = catalog(("Home", "Start"), ("Item", "Item"), ("Gone", "Weg"))
    # Ours removed "Gone" and added two; theirs reworded "Item" and added one.
    ours = catalog(("Home", "Start"), ("Item", "Item"), ("Sign out", "Afmelden"), ("Later", ""))
    theirs = catalog(
        ("Home", "Start"),
        ("Item", "Dossieritem"),
        ("Gone", "Weg"),
        ("My files", "Mijn bestanden"),
        ("Later", "Straks"),
    )
    done = subprocess.run(
        [sys.executable, "-m", "koppel.i18n.catalogs", "merge-driver", base, ours, theirs],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    with ours.open("rb") as file:
        merged = {m.id: m.string for m in read_po(file) if m.id}
    assert merged == {
        "Home": "Start",
        "Item": "Dossieritem",
        "Sign out": "Afmelden",
        "My files": "Mijn bestanden",
        "Later": "Straks",
    }
