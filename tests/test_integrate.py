""" "Send to Koppel": `koppel integrate install|status|uninstall`.

Linux: the real CLI in a subprocess writes the desktop entry, the Nautilus script and the
Dolphin service menu in an isolated HOME, and `desktop-file-validate` checks them.
Windows and macOS cannot run on this Linux machine: the SendTo shortcut is tested on the
exact PowerShell command given to a fake runner, and the Quick Action on its files
compared with golden copies (tests/golden/Send to Koppel.workflow); neither Explorer
nor Finder showing them was exercised here.
"""

from __future__ import annotations

import os
import plistlib
import shutil
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from desktop_fakes import FakeRunner
from harness import BIN, Workstation
from koppel.agent.desktop_integration import send_to, send_to_linux, send_to_macos

Ws = Callable[..., Workstation]
PROBLEMS = 3
GOLDEN = Path(__file__).parent / "golden" / "Send to Koppel.workflow"


def linux_files(ws: Workstation) -> dict[str, Path]:
    data = ws.home / ".local/share"
    return {
        "desktop entry": data / "applications/koppel-send.desktop",
        "Nautilus script": data / "nautilus/scripts/Send to Koppel",
        "Dolphin service menu": data / "kio/servicemenus/koppel-send.desktop",
    }


def validate(path: Path) -> list[str]:
    checked = subprocess.run(
        ["desktop-file-validate", str(path)], capture_output=True, text=True, check=False
    )
    return [line.split(": ", 1)[1] for line in (checked.stdout + checked.stderr).splitlines()]


@pytest.mark.skipif(
    shutil.which("desktop-file-validate") is None, reason="desktop-file-utils is not installed"
)
def test_linux_install_status_uninstall(workstation: Ws) -> None:
    ws = workstation()
    files = linux_files(ws)
    before = ws.koppel("integrate", "status", "--json")
    assert before.returncode == PROBLEMS and before.json()["installed"] is False

    installed = ws.ok("integrate", "install", "--json").json()
    assert installed["installed"] is True and installed["platform"] == "linux"
    assert [(e["kind"], e["path"]) for e in installed["entries"]] == [
        (kind, str(path)) for kind, path in files.items()
    ]
    koppel = BIN / "koppel"
    assert installed["command"] == f"{koppel} submit --gui FILES…"

    entry = files["desktop entry"].read_text()
    # The names in every language: the desktop shows the one of the session's language.
    assert entry == (
        "[Desktop Entry]\nType=Application\nName=Send to Koppel\n"
        "Name[nl]=Naar Koppel sturen\nName[fr]=Envoyer vers Koppel\n"
        "Comment=Send the files to a client's dossier with the Koppel agent\n"
        "Comment[nl]=Stuur de bestanden met de Koppel-agent naar het dossier van een klant\n"
        "Comment[fr]=Envoyer les fichiers dans le dossier d'un client avec l'agent Koppel\n"
        f"Exec={koppel} submit --gui %F\nIcon=mail-send\nTerminal=false\nNoDisplay=true\n"
        "MimeType=application/octet-stream;application/pdf;message/rfc822;"
        "application/vnd.ms-outlook;\n"
    )
    assert validate(files["desktop entry"]) == []
    cache = files["desktop entry"].parent / "mimeinfo.cache"
    assert "koppel-send.desktop" in cache.read_text()  # the file managers' MIME cache
    # KDE's service menu type is unknown to desktop-file-validate: its only remarks are
    # the two keys that KDE's format adds to Type=Service.
    assert validate(files["Dolphin service menu"]) == [
        f'error: key "{key}" is present in group "Desktop Entry", but the type is "Service" '
        'while this key is only valid for type "Application"'
        for key in ("MimeType", "Actions")
    ]
    menu = files["Dolphin service menu"].read_text()
    assert (
        "[Desktop Action sendToKoppel]\nName=Send to Koppel\nName[nl]=Naar Koppel sturen\n"
        "Name[fr]=Envoyer vers Koppel\nIcon=mail-send\n"
    ) in menu
    assert f"Exec={koppel} submit --gui %F\n" in menu
    script = files["Nautilus script"]
    assert script.read_text().endswith(f'exec {koppel} submit --gui "$@"\n')
    for executable in (script, files["Dolphin service menu"]):
        assert os.stat(executable).st_mode & stat.S_IXUSR
    assert subprocess.run(["sh", "-n", str(script)], check=False).returncode == 0

    status = ws.ok("integrate", "status")
    assert f"yes  Nautilus script: {script}" in status.stdout
    assert ws.ok("integrate", "status", "--json").json()["missing"] == []

    # A file changed by hand (or by another install) is reported.
    script.write_text('#!/bin/sh\nexec /old/koppel submit --gui "$@"\n')
    changed = ws.koppel("integrate", "status", "--json")
    assert changed.returncode == PROBLEMS
    assert "another Koppel install or changed" in changed.json()["missing"][0]

    removed = ws.ok("integrate", "uninstall", "--json").json()
    assert len(removed["done"]) == 3 and not any(path.exists() for path in files.values())
    assert "koppel-send.desktop" not in cache.read_text()  # forgotten by the cache too
    assert ws.koppel("integrate", "status").returncode == PROBLEMS


def test_integrate_help_has_an_example(workstation: Ws) -> None:
    shown = workstation().ok("integrate", "install", "--help").stdout
    assert "Send to Koppel" in shown and "koppel integrate status --json" in shown


def test_windows_sendto_shortcut_through_powershell(tmp_path: Path) -> None:
    # This Linux machine has no PowerShell or COM: the command is checked as it would run.
    scripts = tmp_path / "Scripts"
    scripts.mkdir()
    for name in ("koppel.exe", "koppelw.exe"):
        (scripts / name).write_bytes(b"MZ")
    appdata = r"C:\Users\anna o'brien\AppData\Roaming"
    runner = FakeRunner()

    report = send_to.windows_install(appdata, scripts / "koppel.exe", runner)

    lnk = r"C:\Users\anna o'brien\AppData\Roaming\Microsoft\Windows\SendTo\Send to Koppel.lnk"
    koppelw = str(scripts / "koppelw.exe")
    assert runner.commands == [
        [
            "powershell.exe",
            "-NoProfile",
            "-NonInteractive",
            "-ExecutionPolicy",
            "Bypass",
            "-Command",
            "$ErrorActionPreference = 'Stop'; "
            "$shell = New-Object -ComObject WScript.Shell; "
            f"$link = $shell.CreateShortcut('{lnk.replace(chr(39), chr(39) * 2)}'); "
            f"$link.TargetPath = '{koppelw}'; "
            "$link.Arguments = 'submit --gui'; "
            "$link.Description = 'Send the files to a client''s dossier with the Koppel agent'; "
            f"$link.IconLocation = '{koppelw},0'; "
            "$link.Save()",
        ]
    ]
    assert report.installed and report.entries[0].path == lnk
    assert report.command == f"{koppelw} submit --gui FILES…"

    failed = send_to.windows_install(appdata, scripts / "koppel.exe", FakeRunner("powershell.exe"))
    assert not failed.installed
    assert failed.missing == [f"PowerShell could not write {lnk}: powershell.exe: it failed"]
    unset = send_to.windows_install("", scripts / "koppel.exe", runner)
    assert unset.missing == ["%APPDATA% is not set, so the SendTo folder is unknown"]


def test_windows_shortcut_without_koppelw_runs_pythonw(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    (venv / "Scripts").mkdir(parents=True)
    (venv / "Scripts/koppel.exe").write_bytes(b"MZ")
    (venv / "Scripts/pythonw.exe").write_bytes(b"MZ")
    runner = FakeRunner()
    send_to.windows_install(r"C:\AppData", venv / "Scripts/koppel.exe", runner)
    script = runner.commands[0][-1]
    assert f"$link.TargetPath = '{venv / 'Scripts/pythonw.exe'}'" in script
    assert "$link.Arguments = '-m koppel.agent submit --gui'" in script


def test_macos_quick_action_matches_the_golden_files(tmp_path: Path) -> None:
    # Finder and Automator do not run here: the bundle is compared with golden copies.
    home = tmp_path / "anna"
    koppel = Path("/Users/anna/.local/bin/koppel")
    runner = FakeRunner()

    report = send_to.macos_install(home, koppel, runner)

    bundle = home / "Library/Services/Send to Koppel.workflow"
    assert report.entries[0].path == str(bundle) and report.installed
    written = sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file())
    assert written == [
        "Contents/Info.plist",
        "Contents/Resources/fr.lproj/ServicesMenu.strings",
        "Contents/Resources/nl.lproj/ServicesMenu.strings",
        "Contents/document.wflow",
    ]
    for relative in written:
        assert (bundle / relative).read_bytes() == (GOLDEN / relative).read_bytes(), relative
    assert runner.commands == [[send_to_macos.PBS, "-update"]]
    action = plistlib.loads((bundle / "Contents/document.wflow").read_bytes())["actions"][0]
    parameters = action["action"]["ActionParameters"]
    assert parameters["inputMethod"] == 1  # the files as arguments ("$@")
    assert parameters["COMMAND_STRING"] == (
        '/Users/anna/.local/bin/koppel submit --gui "$@" > /dev/null 2>&1 &\n'
    )
    assert send_to.macos_status(home, koppel).installed
    moved = send_to.macos_status(home, Path("/opt/koppel/bin/koppel"))
    assert "another Koppel install" in moved.missing[0]

    send_to.macos_uninstall(home, koppel, runner)
    assert not bundle.exists() and not send_to.macos_status(home, koppel).installed


def test_macos_quoting_of_a_path_with_spaces() -> None:
    command = send_to_macos.shell_command(Path("/Users/anna o'brien/bin/koppel"))
    assert (
        command == "'/Users/anna o'\"'\"'brien/bin/koppel' submit --gui \"$@\" > /dev/null 2>&1 &\n"
    )


def test_the_nautilus_script_passes_every_selected_file(tmp_path: Path) -> None:
    """Nautilus runs the script with the selected files as arguments: a stand-in for
    koppel records the arguments it receives, names with spaces and quotes included."""
    received = tmp_path / "argv.txt"
    stand_in = tmp_path / "bin dir/koppel"
    stand_in.parent.mkdir()
    stand_in.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{received}"\n')
    stand_in.chmod(0o755)
    script = tmp_path / "Send to Koppel"
    script.write_text(send_to_linux.nautilus_script(stand_in))
    script.chmod(0o755)
    files = ["brief aan de bank.pdf", "Jan's factuur.xlsx", "mail $HOME.eml"]
    subprocess.run([str(script), *files], cwd=tmp_path, check=True)
    assert received.read_text().splitlines() == ["submit", "--gui", *files]


@pytest.mark.skipif(
    shutil.which("desktop-file-validate") is None, reason="desktop-file-utils is not installed"
)
def test_linux_install_by_a_dutch_agent(workstation: Ws) -> None:
    # The .desktop entries carry every language (the desktop picks the session's); the
    # Nautilus script's file name is its menu entry, so it is named in the agent's language,
    # and an uninstall in another language still finds it.
    ws = workstation()
    files = linux_files(ws)
    ws.env["KOPPEL_LANG"] = "nl"
    installed = ws.ok("integrate", "install", "--json").json()
    script = files["Nautilus script"].with_name("Naar Koppel sturen")
    assert installed["installed"] is True
    assert installed["done"][1] == f"het Nautilus-script {script} geschreven"
    assert script.is_file() and not files["Nautilus script"].exists()
    entry = files["desktop entry"].read_text()
    assert "\nName[nl]=Naar Koppel sturen\nName[fr]=Envoyer vers Koppel\n" in entry
    assert validate(files["desktop entry"]) == []
    assert "Name[fr]=Envoyer vers Koppel\n" in files["Dolphin service menu"].read_text()
    assert ws.ok("integrate", "status", "--json").json()["missing"] == []

    ws.env["KOPPEL_LANG"] = "fr"
    status = ws.koppel("integrate", "status", "--json")
    assert status.returncode == PROBLEMS  # the French name is not there
    assert "n'existe pas" in status.json()["missing"][0]
    ws.env["KOPPEL_LANG"] = "en"
    removed = ws.ok("integrate", "uninstall", "--json").json()
    assert f"removed the Nautilus script {script}" in removed["done"]
    assert not script.exists() and not any(path.exists() for path in files.values())


def test_the_url_handler_entry_has_its_names_in_every_language(tmp_path: Path) -> None:
    from koppel.agent.desktop_integration import linux_handler

    entry = tmp_path / "koppel-url.desktop"
    entry.write_text(linux_handler.desktop_entry(Path("/usr/bin/koppel")))
    text = entry.read_text()
    assert "\nName=Koppel link handler\nName[nl]=Koppel-linkverwerker\n" in text
    assert "\nName[fr]=Gestionnaire des liens Koppel\n" in text
    assert "Comment[nl]=Opent koppel://-links (Bewerken op mijn computer)" in text
    if shutil.which("desktop-file-validate"):
        assert validate(entry) == []


def test_windows_shortcut_of_a_french_agent(tmp_path: Path) -> None:
    # A shortcut has one name, the one Explorer shows under "Send to": the agent's language.
    from koppel.i18n import set_process_language

    set_process_language("fr")
    try:
        runner = FakeRunner()
        report = send_to.windows_install(r"C:\AppData", tmp_path / "koppel.exe", runner)
    finally:
        set_process_language(None)
    script = runner.commands[0][-1]
    assert r"SendTo\Envoyer vers Koppel.lnk'" in script
    assert "$link.Description = 'Envoyer les fichiers dans le dossier d''un client" in script
    assert report.done == [
        r"raccourci Envoyer vers C:\AppData\Microsoft\Windows\SendTo\Envoyer vers Koppel.lnk écrit"
    ]


def test_macos_quick_action_names_itself_in_dutch_and_french(tmp_path: Path) -> None:
    # Finder localizes a service's menu item from ServicesMenu.strings in <lang>.lproj.
    files = send_to_macos.bundle_files(Path("/usr/local/bin/koppel"))
    assert files["Contents/Resources/nl.lproj/ServicesMenu.strings"] == (
        b'"Send to Koppel" = "Naar Koppel sturen";\n'
    )
    assert files["Contents/Resources/fr.lproj/ServicesMenu.strings"] == (
        b'"Send to Koppel" = "Envoyer vers Koppel";\n'
    )
