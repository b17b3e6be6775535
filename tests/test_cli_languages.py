"""The real ``koppel`` command line in English, Dutch and French: translated help with an
example for every command, plain words for a wrong command line (never a traceback),
the same exit codes and ``--json`` error codes in every language, -q and -v, and shell
completion in a real bash."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from harness import BIN, Workstation

Ws = Callable[..., Workstation]

LANGUAGES = ("en", "nl", "fr")
EXAMPLE = {"en": "Example", "nl": "Voorbeeld", "fr": "Exemple"}
USAGE = {"en": "Usage:", "nl": "Gebruik:", "fr": "Utilisation\u00a0:"}
PLACEHOLDERS = {
    "en": "koppel [OPTIONS] COMMAND [ARGS]...",
    "nl": "koppel [OPTIES] OPDRACHT [ARGUMENTEN]...",
    "fr": "koppel [OPTIONS] COMMANDE [ARGUMENTS]...",
}
OPTIONS = {"en": "Options", "nl": "Opties", "fr": "Options"}
HELP = {
    "en": "Show this message and exit.",
    "nl": "Toon deze hulp en stop.",
    "fr": "Afficher cette aide et quitter.",
}

# Every command and command of a family (typer_app.COMMANDS, with their subcommands).
COMMANDS = (
    ["version"], ["link"], ["envs"], ["unlink"], ["doctor"], ["info"],
    ["settings", "download"], ["installation", "download"], ["items"], ["open"], ["edit"],
    ["submit"], ["queue"], ["queue", "send"], ["queue", "cancel"], ["files"],
    ["files", "get"], ["analyses", "request"], ["watch"], ["agent", "run"],
    ["agent", "status"], ["agent", "stop"], ["handler", "install"], ["handler", "status"],
    ["handler", "uninstall"], ["open-link"], ["integrate", "install"],
    ["integrate", "status"], ["integrate", "uninstall"], ["update", "check"],
    ["update", "install"], ["autostart", "enable"], ["autostart", "disable"],
    ["autostart", "status"], ["tray"],
)  # fmt: skip


def _koppel(ws: Workstation, language: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(ws.env, KOPPEL_LANG=language, COLUMNS="200")
    return subprocess.run(
        [str(BIN / "koppel"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ws.home,
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_command_has_translated_help_with_an_example(workstation: Ws, language: str) -> None:
    ws = workstation("help")
    for command in COMMANDS:
        done = _koppel(ws, language, *command, "--help")
        assert done.returncode == 0, (command, done.stderr)
        text = done.stdout
        assert USAGE[language] in text, (command, text)
        assert EXAMPLE[language] in text, (command, text)
        assert HELP[language] in text, (command, text)
        # The example is a real command line of this command.
        example = text.split(EXAMPLE[language], 1)[1]
        assert f"koppel {' '.join(command)}" in example, (command, example)
    root = _koppel(ws, language, "--help")
    assert root.returncode == 0
    # Click's placeholders of the usage line too.
    assert PLACEHOLDERS[language] in root.stdout, root.stdout
    assert "--install-completion" in root.stdout and "--quiet" in root.stdout


def test_the_help_is_in_the_users_words(workstation: Ws) -> None:
    ws = workstation("words")
    dutch = _koppel(ws, "nl", "items", "--help").stdout
    assert "De dossieritems tonen die u mag zien" in dutch
    assert "Aantal per pagina." in dutch and "[standaard: 50]" in dutch
    french = _koppel(ws, "fr", "items", "--help").stdout
    assert "Liste les éléments de dossier que vous pouvez voir" in french
    assert "Nombre par page." in french
    assert "Codes de sortie" in _koppel(ws, "fr").stdout
    assert "Afsluitcodes" in _koppel(ws, "nl").stdout


# One bad value of every kind an option of koppel takes, what the message names, and
# the exit code (2: a wrong command line).
BAD_VALUES = (
    (["items", "--limit", "abc"], "--limit"),  # a number
    (["items", "--limit", "500"], "--limit"),  # a number out of range
    (["items", "--offset", "-1"], "--offset"),  # below the least
    (["items", "--since", "2026-02-30"], "--since"),  # a date that does not exist
    (["items", "--until", "yesterday"], "--until"),  # not a date
    (["open", "twelve"], "ITEM"),  # an argument that is a number
    (["files", "get", "x"], "FILE_ID"),
    (["submit", "a.pdf", "--to", "D1", "--type", "T", "--transfers", "0"], "--transfers"),
    (["submit", "a.pdf", "--to", "D1", "--type", "T", "--transfers", "many"], "--transfers"),
    (["envs", "--bogus"], "--bogus"),  # an unknown option
    (["doctor", "--env"], "--env"),  # an option without its value
    (["queue", "cancel"], "ID"),  # a missing argument
    (["settings", "download", "--env", "F1"], "--server"),  # a missing option
    (["envs", "extra"], "extra"),  # an argument too many
    (["no-such-command"], "no-such-command"),
)


@pytest.mark.parametrize("language", LANGUAGES)
def test_bad_values_are_said_plainly_with_exit_code_2(workstation: Ws, language: str) -> None:
    ws = workstation("bad")
    messages = []
    for args, named in BAD_VALUES:
        done = _koppel(ws, language, *args)
        assert done.returncode == 2, (args, done.stderr)
        assert "Traceback" not in done.stderr, (args, done.stderr)
        assert named in done.stderr, (args, done.stderr)
        assert "koppel" in done.stderr.splitlines()[-1]  # where the help is
        assert done.stdout == ""
        messages.append(done.stderr)
    if language == "nl":
        expected = "geen geldige waarde voor --limit: geef een geheel getal van 1 tot en met 200"
        assert expected in messages[0]
    if language == "fr":
        assert "L'option --bogus n'existe pas." in messages[9]
    # Nothing was written: a refused command line changes nothing.
    assert not (ws.home / ".local/share/koppel").exists() or not any(
        (ws.home / ".local/share/koppel").rglob("state.json")
    )


def test_json_errors_have_the_same_code_and_exit_code_in_every_language(
    workstation: Ws,
) -> None:
    ws = workstation("json")
    cases = (
        ["items", "--limit", "abc", "--json"],  # a wrong command line
        ["info", "C99999", "--json"],  # not linked
        ["edit", "--json"],  # no item named
        ["agent", "status", "--json"],  # not running
    )
    for args in cases:
        answers = {language: _koppel(ws, language, *args) for language in LANGUAGES}
        codes = {language: done.returncode for language, done in answers.items()}
        assert len(set(codes.values())) == 1, (args, codes)
        parsed = {language: json.loads(done.stdout) for language, done in answers.items()}
        if "error" in parsed["en"]:
            error_codes = {parsed[language]["error"]["code"] for language in LANGUAGES}
            assert len(error_codes) == 1, (args, parsed)
        else:
            assert parsed["en"] == parsed["nl"] == parsed["fr"]
    usage = {
        language: json.loads(_koppel(ws, language, "items", "--limit", "x", "--json").stdout)
        for language in LANGUAGES
    }
    assert {usage[language]["error"]["code"] for language in LANGUAGES} == {"usage"}
    assert usage["nl"]["error"]["message"] != usage["en"]["error"]["message"]
    no_item = {language: _koppel(ws, language, "edit") for language in LANGUAGES}
    assert "Name the item to edit" in no_item["en"].stderr
    assert "Noem het dossieritem dat u wilt bewerken" in no_item["nl"].stderr
    assert "Indiquez l'élément à modifier" in no_item["fr"].stderr


def test_messages_follow_the_language(workstation: Ws) -> None:
    ws = workstation("messages")
    said = {language: _koppel(ws, language, "envs") for language in LANGUAGES}
    assert {done.returncode for done in said.values()} == {0}
    assert "No environment is linked yet" in said["en"].stderr
    assert "Er is nog geen omgeving gekoppeld" in said["nl"].stderr
    assert "Aucun environnement n'est encore lié" in said["fr"].stderr
    queue = _koppel(ws, "nl", "queue")
    assert queue.returncode == 0 and "De wachtrij is leeg." in queue.stderr


def test_quiet_says_only_errors_and_verbose_says_what_is_done(workstation: Ws) -> None:
    ws = workstation("levels")
    normal = _koppel(ws, "en", "envs")
    assert "No environment is linked yet" in normal.stderr
    for quiet in (["-q", "envs"], ["--quiet", "envs"], ["envs", "--quiet"]):
        done = _koppel(ws, "en", *quiet)
        assert (done.returncode, done.stdout, done.stderr) == (0, "", ""), quiet
    refused = _koppel(ws, "en", "-q", "info", "C99999")
    assert refused.returncode == 9 and refused.stderr.startswith("Error: ")
    assert _koppel(ws, "en", "-q", "envs", "--json").stdout.strip() == "[]"
    # -q after a command is that command's: `koppel items -q TEXT` searches the subject.
    assert "--text" in _koppel(ws, "en", "items", "--help").stdout
    verbose = _koppel(ws, "en", "-v", "envs")
    assert verbose.returncode == 0
    assert "language en, data folder" in verbose.stderr
    assert "Done in " in verbose.stderr and "(exit code 0)" in verbose.stderr
    dutch = _koppel(ws, "nl", "--verbose", "envs")
    assert "taal nl, gegevensmap" in dutch.stderr and "Klaar in " in dutch.stderr


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is needed")
def test_shell_completion_in_a_real_bash(workstation: Ws, tmp_path: Path) -> None:
    ws = workstation("completion")
    script = _koppel(ws, "en", "--show-completion", "bash")
    assert script.returncode == 0 and "_KOPPEL_COMPLETE=complete_bash" in script.stdout
    (tmp_path / "koppel-completion.sh").write_text(script.stdout)
    for shell in ("zsh", "fish", "powershell"):
        shown = _koppel(ws, "en", "--show-completion", shell)
        assert shown.returncode == 0 and "koppel" in shown.stdout, shell

    def complete(*words: str) -> list[str]:
        program = (
            f"source {tmp_path / 'koppel-completion.sh'}\n"
            f"COMP_WORDS=({' '.join(repr(w) for w in ('koppel', *words))})\n"
            f"COMP_CWORD={len(words)}\n"
            "_koppel_completion koppel\n"
            'printf "%s\\n" "${COMPREPLY[@]}"\n'
        )
        env = dict(ws.env, PATH=f"{BIN}:{ws.env.get('PATH', '/usr/bin:/bin')}")
        done = subprocess.run(
            ["bash", "--norc", "-c", program], capture_output=True, text=True, env=env, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert complete("su") == ["submit"]
    assert "send" in complete("queue", "") and "cancel" in complete("queue", "")
    assert complete("items", "--li") == ["--limit"]
    # --install-completion writes the script and sources it from ~/.bashrc.
    env = dict(ws.env, SHELL="/bin/bash")
    installed = subprocess.run(
        [str(BIN / "koppel"), "--install-completion", "bash"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert installed.returncode == 0, installed.stderr
    assert "koppel.sh" in (ws.home / ".bashrc").read_text()
    assert (ws.home / ".bash_completions" / "koppel.sh").exists()
