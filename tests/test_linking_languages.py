"""The agent in Dutch and French: ``KOPPEL_LANG`` chooses the language of what ``koppel
link`` says; the exit code and the ``--json`` error code are those of English. A real
``koppel-server`` process and the real ``koppel`` command."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness import Server, Workstation

Ws = Callable[..., Workstation]
INVALID_SETTINGS = 8  # koppel.agent.exit_codes.ExitCode.INVALID_SETTINGS, spelled out

# What each language says of a settings file used twice (the glossary's words).
REUSED = {
    "en": ("already used", "Nothing was linked."),
    "nl": ("is al gebruikt om een werkplek te koppelen", "Er is niets gekoppeld."),
    "fr": ("a déjà servi à lier un poste de travail", "Rien n'a été lié."),
}


@pytest.mark.parametrize("language", ["nl", "fr"])
def test_a_reused_settings_file_is_refused_in_the_users_language(
    demo_server_process: Server, workstation: Ws, language: str
) -> None:
    laptop, desktop = workstation("laptop"), workstation("desktop")
    settings = laptop.save_settings(demo_server_process, "C20001", "anna")
    laptop.ok("link", str(settings))
    copy = desktop.home / "copy.koppel"
    copy.write_text(settings.read_text())

    english = desktop.koppel("link", str(copy), "--json")
    desktop.env = dict(desktop.env, KOPPEL_LANG=language)
    translated = desktop.koppel("link", str(copy), "--json")
    plain = desktop.koppel("link", str(copy))

    assert english.returncode == translated.returncode == plain.returncode == INVALID_SETTINGS
    assert english.json()["error"]["code"] == translated.json()["error"]["code"]
    assert translated.json()["error"]["code"] == "enrollment_used"
    said, summary = REUSED[language]
    for result in (translated, plain):
        assert said in result.stderr and summary in result.stderr
        assert REUSED["en"][0] not in result.stderr  # no English left in the sentence
    assert said in translated.json()["error"]["message"]
    assert (
        REUSED["en"][0] in english.stderr and REUSED["en"][0] in english.json()["error"]["message"]
    )
    assert "C20001" in plain.stderr and "copy.koppel" in plain.stderr
    assert desktop.ok("envs", "--json").json() == []  # nothing was linked, in any language
