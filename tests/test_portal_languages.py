"""The portal's pages in Dutch and French, in process (the real app, httpx): each page in
the language ``Accept-Language`` asks for, its notices and plurals translated, refusals
in the language with the same error code, and engineer-facing details (commands, hashes,
wheel names) only under "Technical details" outside the administrators' pages.

The browser side (the six pages of the issue, axe-core) is in
test_portal_languages_browser.py.
"""

from __future__ import annotations

import re

import pytest

from app_client import InProcess
from portal_client import text_of
from portal_in_process import PortalBrowser
from test_lost_workstation_pages import link

ACCEPT = {"en": "en-GB,en;q=0.9", "nl": "nl-NL,nl;q=0.9,en;q=0.5", "fr": "fr-BE,fr;q=0.9"}

# Per page (path under /portal/F10001/): a text only the translation shows, and English
# texts of the same page that must be gone.
PAGES: dict[str, dict[str, tuple[str, ...]]] = {
    "environments/F10001": {
        "nl": ("Instellingen downloaden", "Technische details", "Koppel al uw klantomgevingen"),
        "fr": ("Télécharger les paramètres", "Détails techniques", "Liez tous vos environnements"),
        "en": ("Download settings", "Link all your client environments"),
    },
    "environments/C20001/files": {
        "nl": ("Mijn bestanden", "Een analyse aanvragen", "De hele omgeving"),
        "fr": ("Mes fichiers", "Demander une analyse", "Tout l'environnement"),
        "en": ("Request an analysis", "The whole environment"),
    },
    "environments/C20001/dossier": {
        "nl": ("Dossieritems zoeken", "Een nieuw dossieritem indienen", "Bestemmingen"),
        "fr": ("Rechercher des éléments", "Déposer un nouvel élément", "Destinations"),
        "en": ("Search items", "File a new item"),
    },
    "devices": {
        "nl": ("Mijn apparaten", "1 actieve koppeling", "Intrekken"),
        "fr": ("Mes appareils", "1 liaison active", "Révoquer"),
        "en": ("My devices", "1 active link", "Revoke access"),
    },
    "security": {
        "nl": ("Verificatie in twee stappen inschakelen", "Overal elders afmelden"),
        "fr": ("Activer la validation en deux étapes", "Se déconnecter partout ailleurs"),
        "en": ("Turn on two-step verification", "Sign out everywhere else"),
    },
    "admin": {
        "nl": ("Controlelijst van F10001", "Alle stappen afgerond", "Gebruikerstokens van"),
        "fr": ("Liste de contrôle de F10001", "Toutes les étapes faites", "Jetons des"),
        "en": ("Checklist of F10001", "Every step done", "User tokens of"),
    },
    "admin/C20001/tokens": {
        "nl": ("Gebruikerstokens van C20001", "Actieve tokens"),
        "fr": ("Jetons des utilisateurs de C20001", "Jetons actifs"),
        "en": ("User tokens of C20001", "Active tokens"),
    },
    "admin/C20001/extensions": {
        "nl": ("Toegestane bestandstypen in C20001", "Meer bestandstypen toestaan"),
        "fr": ("Types de fichiers acceptés dans C20001", "Accepter plus de types de fichiers"),
        "en": ("File types accepted in C20001", "Accept more file types"),
    },
    "admin/audit": {
        "nl": ("Auditlog", "Filters wissen"),
        "fr": ("Journal d'audit", "Effacer les filtres"),
        "en": ("Audit log", "Clear the filters"),
    },
    "admin/lost-workstation": {
        "nl": ("Werkplek kwijt", "Tonen wat zou worden ingetrokken"),
        "fr": ("Poste de travail perdu", "Afficher ce qui serait révoqué"),
        "en": ("Lost workstation", "Show what would be revoked"),
    },
}


def main_text(html: str) -> str:
    """The visible text of the page's own part (<main>), without the shared frame."""
    found = re.search(r"(?s)<main\b[^>]*>(.*)</main>", html)
    assert found, html
    return text_of(found.group(1))


def browser(app: InProcess, language: str, login: str = "anna") -> PortalBrowser:
    """A signed-in browser whose every request asks for ``language``."""
    portal = PortalBrowser(app)
    portal.http = app.client(headers={"Accept-Language": ACCEPT[language]})
    return portal.signed_in(login)


@pytest.mark.parametrize("language", ["nl", "fr"])
def test_every_page_in_the_language_asked_for(demo_app: InProcess, language: str) -> None:
    link(demo_app, "anna", ("anna-laptop-1", "laptop"), "C20001")
    portal = browser(demo_app, language)
    for path, texts in PAGES.items():
        page = portal.get(portal.path(path))
        assert page.status_code == 200, (path, text_of(page.text))
        shown = main_text(page.text)
        for text in texts[language]:
            assert text in shown, (path, text)
        for english in texts["en"]:
            assert english not in shown, (path, english)


def test_english_stays_english(demo_app: InProcess) -> None:
    link(demo_app, "anna", ("anna-laptop-1", "laptop"), "C20001")
    portal = browser(demo_app, "en")
    for path, texts in PAGES.items():
        shown = text_of(portal.get(portal.path(path)).text)
        for text in texts["en"]:
            assert text in shown, (path, text)


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("en", "The address of this page is not valid"),
        ("nl", "Het adres van deze pagina is niet geldig"),
        ("fr", "L'adresse de cette page n'est pas valide"),
    ],
)
def test_a_refusal_in_each_language_has_the_same_code(
    demo_app: InProcess, language: str, message: str
) -> None:
    portal = browser(demo_app, language)
    page = portal.get(portal.path("environments/C20001/dossier") + "?page=0")
    assert page.status_code == 400
    shown = text_of(page.text)
    assert message in shown
    assert "validation_error" in shown  # the error code never changes


@pytest.mark.parametrize(
    ("language", "notice", "requested"),
    [
        ("nl", "Er was geen andere browser aangemeld.", "is aangevraagd; het verschijnt"),
        ("fr", "Aucun autre navigateur n'était connecté.", "a été demandé ; il apparaît"),
    ],
)
def test_notices_after_a_form_are_translated(
    demo_app: InProcess, language: str, notice: str, requested: str
) -> None:
    portal = browser(demo_app, language)
    portal.get(portal.path("security"))
    done = portal.post(portal.path("security", "sign-out-others"))
    assert notice in text_of(done.text)
    portal.get(portal.path("environments/C20001/files"))
    asked = portal.post(
        portal.path("environments/C20001/analyses"),
        {"kind": "dossier-overview", "destination": ""},
    )
    shown = text_of(asked.text)
    assert requested in shown
    # One pending file: the singular, in the language's words.
    pending = {"nl": "1 bestand wordt voorbereid", "fr": "1 fichier est en préparation"}
    assert pending[language] in shown


TECHNICAL = re.compile(r"(?s)<details class=\"technical\">(.*?)</details>")


@pytest.mark.parametrize("language", ["en", "nl", "fr"])
def test_commands_and_wheel_names_only_under_technical_details(
    demo_app: InProcess, language: str
) -> None:
    portal = browser(demo_app, language)
    for path in ("environments/F10001", "environments/C20001/files"):
        html = portal.get(portal.path(path)).text
        hidden = " ".join(TECHNICAL.findall(html))
        outside = text_of(TECHNICAL.sub(" ", html))
        for engineering in ("pip install", "koppel link", ".whl", "koppel files --env"):
            assert engineering not in outside, (path, engineering)
        assert "koppel" in hidden.lower(), path


def test_the_device_page_in_french(demo_app: InProcess) -> None:
    http = demo_app.client(headers={"Accept-Language": ACCEPT["fr"]})
    page = http.get("/device")
    assert page.status_code == 200
    shown = main_text(page.text)
    assert "Approuver Koppel sur votre ordinateur" in shown
    assert "Code affiché par Koppel" in shown and "Continuer" in shown
    assert not re.search(r"\bContinue\b", shown)


def test_two_step_enrolment_in_dutch(demo_app: InProcess) -> None:
    portal = browser(demo_app, "nl")
    portal.get(portal.path("security"))
    enrol = portal.post(portal.path("security", "enrol"))
    shown = main_text(enrol.text)
    assert "Verificatie in twee stappen inschakelen" in shown
    assert "Code uit de app" in shown and "Bevestigen en inschakelen" in shown
    assert 'title id="' in enrol.text or "QR-code voor uw authenticator-app" in enrol.text


@pytest.mark.parametrize("language", ["nl", "fr"])
def test_a_dossier_item_keeps_hashes_under_technical_details(
    demo_app: InProcess, language: str
) -> None:
    portal = browser(demo_app, language)
    portal.get(portal.path("environments/C20001/dossier"))
    filed = portal.post(
        portal.path("environments/C20001/dossier/items"),
        {"subject": "Factuur maart", "type": "Invoice", "destination": "D0001"},
        files={"file": ("factuur maart.pdf", b"%PDF-1.4 maart", "application/pdf")},
    )
    assert filed.status_code == 200, main_text(filed.text)
    html = filed.text
    filed_notice = {"nl": "is ingediend met factuur maart.pdf", "fr": "a été déposé avec"}
    assert filed_notice[language] in main_text(html)
    words = {
        "nl": ("Versies van", "Technische details"),
        "fr": ("Versions de", "Détails techniques"),
    }
    shown = main_text(html)
    for word in words[language]:
        assert word in shown
    outside = text_of(TECHNICAL.sub(" ", html))
    assert not re.search(r"\b[0-9a-f]{64}\b", outside)  # no SHA-256 outside the disclosure
    assert re.search(r"\b[0-9a-f]{64}\b", " ".join(TECHNICAL.findall(html)))
