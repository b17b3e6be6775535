""" "Send to Koppel" on Linux: three small files, one per way a desktop offers an action
on selected files. Each runs ``koppel submit --gui FILES…``.

- a freedesktop ``.desktop`` application (``Open With`` in every file manager);
- a Nautilus (GNOME Files) script, in the right-click menu's *Scripts*;
- a Dolphin (KDE) service menu. KDE's ``Type=Service`` is an extension of the desktop
  entry format: ``desktop-file-validate`` knows only the freedesktop types and reports
  its ``MimeType`` and ``Actions`` keys (the tests check that these are its only remarks).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from koppel.agent.local.freedesktop import (
    applications_dir,
    data_home,
    exec_argument,
)
from koppel.i18n import DEFAULT_LANGUAGE, LANGUAGES, N_, translations
from koppel.i18n import gettext as _

NAME = N_("Send to Koppel")
COMMENT = N_("Send the files to a client's dossier with the Koppel agent")
# application/octet-stream is what every file is at least; the mail types are listed too
# because some desktops offer an action only for the types it names.
MIME_TYPES = (
    "application/octet-stream",
    "application/pdf",
    "message/rfc822",
    "application/vnd.ms-outlook",
)
DESKTOP_FILE = "koppel-send.desktop"
SERVICE_MENU = "koppel-send.desktop"


@dataclass(frozen=True)
class LinuxFile:
    """One file written by ``koppel integrate install``."""

    kind: str
    path: Path
    content: str
    executable: bool


def _exec(koppel: Path) -> str:
    return f"{exec_argument(str(koppel))} submit --gui %F"


def localized(key: str, message: str) -> str:
    """``key=message`` and a ``key[nl]=``/``key[fr]=`` line per translation: the desktop
    shows the one of the session's language, whatever the agent's language was."""
    lines = [f"{key}={message}"]
    for language in LANGUAGES:
        if language != DEFAULT_LANGUAGE:
            lines.append(f"{key}[{language}]={translations(language).gettext(message)}")
    return "\n".join(lines) + "\n"


def script_names() -> list[str]:
    """The Nautilus script's name (its menu entry) in every language: the one written is
    the agent's, an uninstall removes any of them (the language may have changed)."""
    names = [translations(language).gettext(NAME) for language in LANGUAGES]
    return list(dict.fromkeys(names))


def desktop_entry(koppel: Path) -> str:
    """The application entry: "Send to Koppel" under *Open With*."""
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        + localized("Name", NAME)
        + localized("Comment", COMMENT)
        + f"Exec={_exec(koppel)}\n"
        "Icon=mail-send\n"
        "Terminal=false\n"
        "NoDisplay=true\n"
        f"MimeType={';'.join(MIME_TYPES)};\n"
    )


def nautilus_script(koppel: Path) -> str:
    """The Nautilus script: Nautilus passes the selected local files as arguments."""
    return (
        "#!/bin/sh\n"
        "# Written by `koppel integrate install`; `koppel integrate uninstall` removes it.\n"
        f'exec {shlex.quote(str(koppel))} submit --gui "$@"\n'
    )


def service_menu(koppel: Path) -> str:
    """The Dolphin service menu (KDE Frameworks 5 and 6)."""
    return (
        "[Desktop Entry]\n"
        "Type=Service\n" + localized("Name", NAME) + f"MimeType={';'.join(MIME_TYPES)};\n"
        "Actions=sendToKoppel;\n"
        "X-KDE-ServiceTypes=KonqPopupMenu/Plugin\n"
        "X-KDE-Priority=TopLevel\n"
        "\n"
        "[Desktop Action sendToKoppel]\n" + localized("Name", NAME) + "Icon=mail-send\n"
        f"Exec={_exec(koppel)}\n"
    )


def files(koppel: Path) -> list[LinuxFile]:
    """The three files, where they go and what they hold."""
    data = data_home()
    return [
        LinuxFile("desktop entry", applications_dir() / DESKTOP_FILE, desktop_entry(koppel), False),
        LinuxFile(
            "Nautilus script", data / "nautilus/scripts" / _(NAME), nautilus_script(koppel), True
        ),
        # KDE Frameworks 6 runs only executable service menus outside the system folders.
        LinuxFile(
            "Dolphin service menu",
            data / "kio/servicemenus" / SERVICE_MENU,
            service_menu(koppel),
            True,
        ),
    ]
