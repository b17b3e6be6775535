"""What a fresh look at the Dutch and French agent found, through the real ``koppel``:
codes in tables shown as words of the language (``--json`` keeps the codes), times in
this computer's time zone written as the language writes them, a file that does not
exist refused as ``not_found`` in every language, a decimal comma, and a KOPPEL_LANG
that Koppel does not speak said once on stderr."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from harness import Server, Workstation
from test_watch import publish, wait_ready

Ws = Callable[..., Workstation]


def _linked(srv: Server, workstation: Ws, name: str, **env: str) -> Workstation:
    ws = workstation(name, **env)
    ws.ok("link", str(ws.save_settings(srv, "F10001", "anna")))
    return ws


@pytest.mark.parametrize("language", ["en", "nl", "fr"])
def test_a_missing_file_is_not_found_in_every_language(
    demo_server: Server, workstation: Ws, language: str
) -> None:
    ws = _linked(demo_server, workstation, f"missing-{language}")
    ws.env["KOPPEL_LANG"] = language
    missing = ws.koppel("files", "get", "99", "--env", "F10001", "--json")
    assert missing.returncode == 7, missing.stderr
    assert missing.json()["error"]["code"] == "not_found"
    said = ws.koppel("files", "get", "99", "--env", "F10001")
    assert said.returncode == 7
    expected = {
        "en": "There is no file 99 in your My files of F10001",
        "nl": "Bestand 99 staat niet in Mijn bestanden van F10001",
        "fr": "Le fichier 99 ne figure pas dans Mes fichiers de F10001",
    }[language]
    assert expected in said.stderr


def test_tables_say_codes_in_words_and_times_in_local_time(
    demo_server: Server, workstation: Ws, tmp_path: Path
) -> None:
    # A zone far from UTC and from Europe/Amsterdam: the table must follow the computer.
    ws = _linked(demo_server, workstation, "tables", TZ="Asia/Kolkata")
    (tmp_path / "report.pdf").write_bytes(b"%PDF report")
    file_id = publish(demo_server, "F10001", "anna", tmp_path / "report.pdf")
    wait_ready(ws, "F10001", file_id)
    created = datetime.fromisoformat(
        next(f for f in ws.ok("files", "--env", "F10001", "--json").json() if f["id"] == file_id)[
            "created"
        ]
    )
    kolkata = created.astimezone(UTC).replace(tzinfo=None)  # +05:30, no summer time
    local = kolkata + timedelta(hours=5, minutes=30)
    for language, ready, firm in (("nl", "gereed", "kantoor"), ("fr", "prêt", "cabinet")):
        ws.env["KOPPEL_LANG"] = language
        files = ws.ok("files", "--env", "F10001").stdout
        row = next(line for line in files.splitlines() if line.startswith(str(file_id)))
        assert f" {ready} " in row and " ready " not in row, row
        assert local.strftime("%H:%M") in row and "UTC" not in row, row
        envs = ws.ok("envs").stdout
        assert firm in envs and " firm " not in envs, envs
    # --json keeps the codes and ISO 8601 UTC.
    assert ws.ok("envs", "--json").json()[0]["kind"] == "firm"
    listed = ws.ok("files", "--env", "F10001", "--json").json()
    assert next(f for f in listed if f["id"] == file_id)["state"] == "ready"


def test_envs_last_check_is_in_local_time_without_utc(demo_server: Server, workstation: Ws) -> None:
    ws = _linked(demo_server, workstation, "lastcheck", TZ="Asia/Kolkata", KOPPEL_LANG="nl")
    ws.ok("doctor")
    last = ws.ok("envs", "--json").json()[0]["last_check"]
    moment = datetime.fromisoformat(last).astimezone(UTC)
    shown = (moment + timedelta(hours=5, minutes=30)).strftime("%d-%m-%Y %H:%M")
    table = ws.ok("envs").stdout
    assert shown in table and "UTC" not in table, table
    doctor = ws.ok("doctor").stdout
    assert "in orde" in doctor and "F10001" in doctor, doctor
    created = datetime.fromisoformat(ws.ok("info", "F10001", "--json").json()["token_created"])
    local = created.astimezone(UTC) + timedelta(hours=5, minutes=30)
    info = ws.ok("info", "F10001").stdout
    assert f"aangemaakt op {local.day} " in info and local.strftime("%H:%M") in info, info


def test_verbose_says_the_time_with_the_languages_decimal_separator(workstation: Ws) -> None:
    ws = workstation("decimal")
    for language, pattern in (("nl", r"Klaar in \d+,\d\d s"), ("en", r"Done in \d+\.\d\d s")):
        ws.env["KOPPEL_LANG"] = language
        done = ws.ok("-v", "envs")
        assert re.search(pattern, done.stderr), done.stderr


def test_a_language_koppel_does_not_speak_is_said_once(workstation: Ws) -> None:
    ws = workstation("german", KOPPEL_LANG="de")
    said = ws.ok("envs")
    assert said.stderr.count("KOPPEL_LANG=de: this language is not available") == 1
    assert "nl, fr, en" in said.stderr
    assert "not available" not in ws.ok("envs", "--json").stderr
    assert "not available" not in ws.ok("-q", "envs").stderr
    ws.env["KOPPEL_LANG"] = "nl-BE"
    assert "not available" not in ws.ok("envs").stderr


def test_local_means_the_zone_of_this_computer(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from koppel.i18n import LOCAL, format_when, local_time, use_language

    moment = datetime(2026, 7, 1, 22, 30, tzinfo=UTC)
    try:
        monkeypatch.setenv("TZ", "Asia/Kolkata")
        time.tzset()
        assert local_time(moment, LOCAL).strftime("%d %H:%M") == "02 04:00"
        with use_language("nl"):
            assert format_when(moment, LOCAL) == "2 jul 2026 04:00"
        monkeypatch.setenv("TZ", "America/New_York")
        time.tzset()
        with use_language("fr"):
            assert format_when(moment, LOCAL) == "1 juil. 2026 18:30"
        assert format_when(moment, "Europe/London") == "1 Jul 2026 23:30"  # a zone still wins
    finally:
        monkeypatch.undo()
        time.tzset()


def test_dutch_help_speaks_in_one_mood_with_the_glossarys_words(workstation: Ws) -> None:
    ws = workstation("mood", KOPPEL_LANG="nl", COLUMNS="250")
    listing = ws.ok("--help").stdout
    for line in (
        "Bestanden indienen als één dossieritem",
        "De gekoppelde omgevingen tonen",
        "Elke gekoppelde omgeving controleren",
        "Mijn bestanden ontvangen zodra ze klaar zijn",
    ):
        assert line in listing, listing
    for third_person in ("Toont ", "Verzendt ", "Downloadt ", "Slaat ", "Controleert "):
        assert third_person not in listing, third_person
    assert "inzending" not in ws.ok("queue", "--help").stdout


@pytest.mark.parametrize("language", ["nl", "fr"])
def test_commands_are_written_as_they_are_typed(workstation: Ws, language: str) -> None:
    ws = workstation(f"typed-{language}", KOPPEL_LANG=language)
    said = ws.koppel("doctor")
    assert "koppel link FILE" in said.output, said.output
    assert "BESTAND" not in said.output and "FICHIER" not in said.output
