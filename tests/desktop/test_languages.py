"""The desktop agent in Dutch and French: the tray's menu, the linked environments window
and the submit window take their words from the catalogs in the agent's language (set
here with ``set_process_language``, as ``KOPPEL_LANG`` sets it for a process), and a
refusal reads in Dutch with the same exit code and ``--json`` code as in English."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from harness import Server, Workstation
from koppel.i18n import set_process_language
from uploads_helpers import link

from .conftest import be_the_agent_of, screenshot

Ws = Callable[..., Workstation]
CLIENT = "C20001"
WAIT_MS = 60_000
FILE_REFUSED = 10


@pytest.fixture
def speak() -> Iterator[Callable[[str], None]]:
    """Set the agent's language in this process; English again afterwards."""
    yield set_process_language
    set_process_language(None)  # chosen again from KOPPEL_LANG=en (tests/conftest.py)


@pytest.fixture
def laptop(workstation: Ws, monkeypatch: pytest.MonkeyPatch) -> Workstation:
    """A workstation with nothing linked, whose agent is this process's."""
    ws = workstation("laptop")
    be_the_agent_of(ws, monkeypatch)
    return ws


def menu_texts(tray: Any) -> list[str]:
    return [action.text() for action in tray.menu.actions() if not action.isSeparator()]


@pytest.mark.parametrize(
    ("language", "expected", "tooltip"),
    [
        (
            "nl",
            [
                "koppel.example.nl: verbonden (F10001)",
                "koppel.example.be: toegang ingetrokken: koppel opnieuw (C20001)",
                "Niets wacht op verzending",
                "Bestanden versturen…",
                "Ontvangen bestanden openen",
                "Gekoppelde omgevingen",
                "Nu controleren",
                "Afsluiten",
            ],
            "Koppel: toegang ingetrokken: koppel opnieuw",
        ),
        (
            "fr",
            [
                "koppel.example.nl\u00a0: connecté (F10001)",
                "koppel.example.be\u00a0: accès révoqué\u00a0: liez-le à nouveau (C20001)",
                "Rien en attente d'envoi",
                "Envoyer des fichiers…",
                "Ouvrir les fichiers reçus",
                "Environnements liés",
                "Vérifier maintenant",
                "Quitter",
            ],
            "Koppel\u00a0: accès révoqué\u00a0: liez-le à nouveau",
        ),
    ],
)
def test_the_tray_menu_in_dutch_and_french(
    laptop: Workstation,
    speak: Callable[[str], None],
    qtbot: QtBot,
    tmp_path: Path,
    language: str,
    expected: list[str],
    tooltip: str,
) -> None:
    from koppel.agent.desktop.tray import EnvironmentsWindow, Tray
    from koppel.agent.desktop.tray_model import CONNECTED, TOKEN_REVOKED, ServerStatus

    speak(language)
    tray = Tray()
    tray.rebuild(
        [
            ServerStatus("https://koppel.example.nl", CONNECTED, ["F10001"]),
            ServerStatus("https://koppel.example.be", TOKEN_REVOKED, ["C20001"]),
        ]
    )
    assert menu_texts(tray) == expected
    assert tray.icon.toolTip() == tooltip
    screenshot(tray.menu, f"tray-menu-{language}", tmp_path)

    window = EnvironmentsWindow()
    qtbot.addWidget(window)
    table = window.table
    headers = [table.horizontalHeaderItem(i).text() for i in range(table.columnCount())]
    assert window.windowTitle() == expected[5]  # "Linked environments"
    assert (
        headers
        == {
            "nl": ["Code", "Naam", "Server", "Laatste controle", "Status"],
            "fr": ["Code", "Nom", "Serveur", "Dernière vérification", "État"],
        }[language]
    )


def test_the_queue_line_counts_in_each_language(speak: Callable[[str], None]) -> None:
    from koppel.agent.desktop.tray_model import QueueCounts, queue_line

    speak("nl")
    assert queue_line(QueueCounts(1, 0)) == "1 indiening wacht op verzending"
    assert queue_line(QueueCounts(3, 2)) == (
        "3 indieningen wachten op verzending, 2 geweigerd (zie `koppel queue`)"
    )
    speak("fr")
    assert (
        queue_line(QueueCounts(1, 1))
        == "1 dépôt en attente d'envoi, 1 refusé (voir `koppel queue`)"
    )
    assert queue_line(QueueCounts(2, 0)) == "2 dépôts en attente d'envoi"


@pytest.mark.parametrize(
    ("language", "words"),
    [
        (
            "nl",
            {
                "title": "Bestanden naar Koppel sturen",
                "buttons": ["Bestanden toevoegen…", "Verwijderen", "Versturen", "Annuleren"],
                "labels": ["Omgeving:", "Bestemming:", "Soort dossieritem:", "Onderwerp:"],
                "headers": ["Bestand", "Grootte", "Verstuurd"],
                "nothing linked": "Er is nog geen omgeving gekoppeld. Koppel er een met "
                "`koppel link FILE`.",
                "choose": "Kies een omgeving, een bestemming, een soort dossieritem.",
                "size": "1,5 MB",
            },
        ),
        (
            "fr",
            {
                "title": "Envoyer des fichiers vers Koppel",
                "buttons": ["Ajouter des fichiers…", "Retirer", "Envoyer", "Annuler"],
                "labels": [
                    "Environnement\u00a0:",
                    "Destination\u00a0:",
                    "Type d'élément\u00a0:",
                    "Objet\u00a0:",
                ],
                "headers": ["Fichier", "Taille", "Envoyé"],
                "nothing linked": "Aucun environnement n'est encore lié. Liez-en un avec "
                "`koppel link FILE`.",
                "choose": "Choisissez un environnement, une destination, un type d'élément.",
                "size": "1,5 MB",
            },
        ),
    ],
)
def test_the_submit_window_in_dutch_and_french(
    laptop: Workstation,
    speak: Callable[[str], None],
    qtbot: QtBot,
    tmp_path: Path,
    language: str,
    words: dict[str, Any],
) -> None:
    from PySide6.QtWidgets import QFormLayout, QLabel

    from koppel.agent.desktop.submit_window import SubmitWindow

    speak(language)
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(b"%PDF" + b"x" * 1_499_996)
    window = SubmitWindow([scan])
    qtbot.addWidget(window)
    window.show()
    assert window.windowTitle() == words["title"]
    buttons = [window.add_button, window.remove_button, window.send_button, window.cancel_button]
    assert [b.text() for b in buttons] == words["buttons"]
    form = window.findChild(QFormLayout)
    labels = [
        label.text()
        for row in range(form.rowCount())
        if isinstance(label := form.itemAt(row, QFormLayout.ItemRole.LabelRole).widget(), QLabel)
    ]
    assert labels == words["labels"]
    header = window.file_list.headerItem()
    assert [header.text(i) for i in range(3)] == words["headers"]
    assert window.file_list.topLevelItem(0).text(1) == words["size"]
    # Nothing is linked on this laptop: the window says so, in the agent's language.
    assert window.message() == words["nothing linked"]
    window.send()
    assert window.message() == words["choose"]


def test_a_refusal_reads_in_dutch_with_the_same_codes(
    demo_server: Server,
    workstation: Ws,
    monkeypatch: pytest.MonkeyPatch,
    speak: Callable[[str], None],
    qtbot: QtBot,
    tmp_path: Path,
) -> None:
    """An empty file: the window and ``KOPPEL_LANG=nl koppel submit`` refuse it in the same
    Dutch sentence; the exit code and the ``--json`` error code are those of English."""
    from koppel.agent.desktop.submit_window import SubmitWindow

    ws = workstation("laptop")
    link(ws, demo_server, CLIENT, "anna")
    be_the_agent_of(ws, monkeypatch)
    speak("nl")
    empty = tmp_path / "leeg.pdf"
    empty.write_bytes(b"")
    window = SubmitWindow([empty])
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.choices_loaded, timeout=WAIT_MS):
        window.show()
    assert window.destination.count() > 0  # the lists came from the server
    assert window.subject.text() == "leeg.pdf"
    screenshot(window, "submit-window-nl", tmp_path)
    with qtbot.waitSignal(window.finished, timeout=WAIT_MS) as done:
        window.send()
    assert isinstance(done.args[0], Exception)
    shown = window.message()
    assert shown == f"{empty} is leeg; er is niets om in te dienen."

    args = ("submit", str(empty), "--to", "X", "--type", "Y", "--env", CLIENT)
    ws.env["KOPPEL_LANG"] = "nl"
    dutch = ws.koppel(*args)
    dutch_json = ws.koppel(*args, "--json")
    ws.env["KOPPEL_LANG"] = "en"
    english_json = ws.koppel(*args, "--json")
    assert dutch.returncode == dutch_json.returncode == english_json.returncode == FILE_REFUSED
    assert dutch.stderr.strip() == f"Fout: {shown}"
    said = json.loads(dutch_json.stdout)["error"]
    assert said["code"] == json.loads(english_json.stdout)["error"]["code"] == "empty_file"
    assert said["message"] == shown
