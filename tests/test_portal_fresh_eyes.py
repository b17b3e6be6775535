"""What a fresh-eyes pass of the portal in Dutch and French found (issue 15), in process
(the real app, httpx): destination kinds in the reader's language, no koppel-admin command
for those who cannot run it, the product's name for the connector, a wrong password that
points to "Forgot your password?", a readable list of time zones and a readable footer,
error pages that keep the navigation and answer a browser with HTML; and the
administrator's tools (real ``koppel-admin``): an accounts CSV as Excel writes it in the
Netherlands, Belgium and France, and the agent's own variables not called mistakes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app_client import InProcess, make_in_process
from harness import make_server
from koppel.server.config import unknown_variables
from portal_client import text_of
from portal_in_process import PortalBrowser

ACCEPT = {"nl": "nl-NL,nl;q=0.9", "fr": "fr-BE,fr;q=0.9", "en": "en-GB,en;q=0.9"}
AGENT = Path(__file__).parent.parent / "src" / "koppel" / "agent"


def browser(app: InProcess, language: str, login: str = "anna") -> PortalBrowser:
    made = PortalBrowser(app)
    made.http = app.client(headers={"Accept-Language": ACCEPT[language]})
    return made.signed_in(login)


@pytest.mark.parametrize(
    ("language", "kinds"),
    [("nl", ("organisatie", "debiteur", "crediteur", "werknemer")),
     ("fr", ("organisation", "débiteur", "créancier", "salarié"))],
)  # fmt: skip
def test_destination_kinds_are_in_the_pages_language(
    demo_app: InProcess, language: str, kinds: tuple[str, ...]
) -> None:
    portal = browser(demo_app, language)
    page = text_of(portal.get(portal.path("environments", "C20001", "dossier")).text)
    for kind in kinds:
        assert kind in page, (kind, page)
    for english in ("(debtor)", "(creditor)", "(employee)", "(person)"):
        assert english not in page
    files = text_of(portal.get(portal.path("environments", "C20001", "files")).text)
    assert f"({kinds[1]})" in files and "(debtor)" not in files


def test_a_client_reads_what_to_ask_for_without_a_command(demo_app: InProcess) -> None:
    # bram administers nothing: he reads the sentence; anna (the administrator) the command.
    for login in ("bram", "anna"):
        demo_app.ok("users", "unauthorize", "C20001", login, "--function",
                    "General/User/Communication Center/Save settings")  # fmt: skip
    bram = text_of(browser(demo_app, "fr", "bram").last.text)  # type: ignore[union-attr]
    assert "Vous n'êtes pas autorisé pour « Save settings » dans C20001" in bram
    assert "koppel-admin" not in bram
    anna = text_of(browser(demo_app, "fr", "anna").last.text)  # type: ignore[union-attr]
    assert "koppel-admin users authorize C20001 anna" in anna


def test_my_devices_names_the_communication_center(demo_app: InProcess) -> None:
    demo_app.token("C20001", "bram")
    portal = browser(demo_app, "nl", "bram")
    page = text_of(portal.get(portal.path("devices")).text)
    assert "Communication Center" in page and "communication-center" not in page


def test_a_wrong_password_points_to_forgot_your_password_when_mail_is_on(
    tmp_path: Path, demo_app: InProcess
) -> None:
    def wrong(app: InProcess) -> str:
        portal = PortalBrowser(app)
        portal.http = app.client(headers={"Accept-Language": ACCEPT["nl"]})
        answer = portal.sign_in("anna", "not-the-password")
        assert answer.status_code == 401
        return text_of(answer.text)

    assert "vraag uw beheerder om uw wachtwoord opnieuw in te stellen" in wrong(demo_app)
    with_mail = make_in_process(tmp_path / "mail", smtp_url="smtp://127.0.0.1:1")
    try:
        said = wrong(with_mail)
    finally:
        with_mail.close()
    assert "kies een nieuw wachtwoord via ‘Wachtwoord vergeten?’" in said
    assert "beheerder" not in said


@pytest.mark.parametrize(
    ("language", "first", "footer"),
    [("nl", "Brussel (België)", "Tijden staan in de tijdzone van Amsterdam (Nederland)."),
     ("fr", "Bruxelles (Belgique)",
      "Heures indiquées selon le fuseau horaire : Amsterdam (Pays-Bas).")],
)  # fmt: skip
def test_time_zones_are_a_short_list_of_readable_names(
    demo_app: InProcess, language: str, first: str, footer: str
) -> None:
    portal = browser(demo_app, language, "bram")
    html = portal.get(portal.path("profile")).text
    options = re.findall(r'<option value="([^"]+)"[^>]*>([^<]*)</option>', html)
    zones = dict(options)
    assert zones["Europe/Brussels"] == first
    values = [value for value, _name in options]
    assert (
        values.index("Europe/Amsterdam")
        < values.index("Europe/Brussels")
        < values.index("Europe/Paris")
        < values.index("UTC")
    )
    # A curated list: no deprecated aliases, no Etc/ or SystemV/ zones, not ~600 entries.
    assert 80 < len(zones) < 160
    for alias in ("Europe/Kiev", "Asia/Calcutta", "US/Eastern", "Etc/GMT+1", "Europe/Belfast"):
        assert alias not in zones
    page = text_of(html)
    assert footer in page and "Europe/" not in page.split("Koppel ")[-1]
    assert "internet" not in page.lower() and "Internet" not in page
    # The value is the IANA id: choosing a name saves the zone.
    saved = portal.post(portal.path("profile"),
                        {"email": "", "language": "", "time_zone": "Europe/Brussels"})  # fmt: skip
    assert saved.status_code == 200
    assert "Bruxelles (Belgique)" in text_of(saved.text) or "Brussel (België)" in text_of(
        saved.text
    )


def test_a_not_found_page_keeps_the_navigation_and_a_browser_gets_html(
    demo_app: InProcess,
) -> None:
    portal = browser(demo_app, "fr", "bram")
    missing = portal.get(portal.path("environments", "C29999", "dossier"))
    assert missing.status_code == 404
    assert portal.path("devices") in missing.text and "sign-out" in missing.text
    assert "Mes appareils" in text_of(missing.text)

    anonymous = demo_app.client(headers={"Accept": "text/html,*/*;q=0.8",
                                         "Accept-Language": ACCEPT["nl"]})  # fmt: skip
    page = anonymous.get("/nope")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "<html" in page.text and '"code"' not in page.text
    assert "not_found" in page.text and "Niet gevonden" in text_of(page.text)
    # Scripts and agents keep their JSON: without text/html, and under /api/ always.
    assert demo_app.client().get("/nope").json()["code"] == "not_found"
    api = anonymous.get("/api/v1/nope")
    assert api.status_code == 404 and api.json()["code"] == "not_found"


def test_every_variable_the_agent_reads_is_known_to_the_server() -> None:
    read = set()
    for source in AGENT.rglob("*.py"):
        read |= set(re.findall(r"\bKOPPEL_[A-Z0-9_]+\b", source.read_text(encoding="utf-8")))
    assert {"KOPPEL_AGENT_HOME", "KOPPEL_TOKEN_STORE"} <= read
    assert unknown_variables(dict.fromkeys(read, "x")) == []


def test_koppel_admin_takes_an_excel_csv_and_the_agents_variables(tmp_path: Path) -> None:
    server = make_server(tmp_path, process=True)
    server.env.update(KOPPEL_AGENT_HOME=str(tmp_path / "agent"), KOPPEL_TOKEN_STORE="file",
                      KOPPEL_WORKSTATION_NAME="pc-1", KOPPEL_AUTOMIGRATE="false")  # fmt: skip
    server.data_dir.mkdir(parents=True)
    init = server.admin("db", "init")
    assert init.returncode == 0, init.output
    assert "KOPPEL_AGENT_HOME" not in init.stderr and "KOPPEL_TOKEN_STORE" not in init.stderr
    assert "KOPPEL_AUTOMIGRATE is not a setting of the server" in init.stderr

    # As Excel saves it in nl/BE/FR: semicolons, a byte-order mark, a Dutch header.
    dutch = tmp_path / "medewerkers.csv"
    dutch.write_text("\ufefflogin;naam;e-mail\r\ndirk;Peeters, Dirk;dirk@firm.example\r\n"
                     "eva;Eva Jacobs;\r\n", encoding="utf-8")  # fmt: skip
    done = server.admin("accounts", "import", str(dutch), "--json")
    assert done.returncode == 0, done.output
    french = tmp_path / "salaries.csv"
    french.write_text("identifiant;nom;courriel\nfleur;Fleur Dubois;fleur@firm.example\n",
                      encoding="utf-8")  # fmt: skip
    assert server.admin("accounts", "import", str(french)).returncode == 0
    english = tmp_path / "staff.csv"
    english.write_text("login,name,email\ngert,Gert Smit,gert@firm.example\n", encoding="utf-8")
    assert server.admin("accounts", "import", str(english)).returncode == 0
    listed = server.admin("accounts", "list", "--json").output
    for expected in ('"Peeters, Dirk"', '"dirk@firm.example"', '"Fleur Dubois"',
                     '"fleur@firm.example"', '"gert@firm.example"', '"Eva Jacobs"'):  # fmt: skip
        assert expected in listed, listed
    # An unknown column is still refused, naming the columns.
    bad = tmp_path / "bad.csv"
    bad.write_text("login;naam;telefoon\nhans;Hans;0612345678\n", encoding="utf-8")
    refused = server.admin("accounts", "import", str(bad))
    assert refused.returncode == 5 and "telefoon" in refused.output


def _strings(language: str) -> list[str]:
    from koppel.i18n.catalogs import load

    found: list[str] = []
    for message in load(language):
        if message.id:
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            found += [s for s in strings if s]
    return found


def test_the_catalogs_name_the_portals_button_and_the_glossarys_words() -> None:
    dutch, french = _strings("nl"), _strings("fr")
    # Messages that send the user back to the portal name its button as shown.
    assert not [s for s in dutch if "instellingen opnieuw op" in s]
    assert not [s for s in french if "nregistrez à nouveau les paramètres" in s]
    assert any("Met dit instellingenbestand vindt Koppel" in s for s in dutch)
    assert any("permet de le lier une seule fois" in s for s in french)
    assert not [s for s in french if "votre administration vous en envoie" in s]
    # Dutch says "dossieritem" (the glossary), never a bare "item" on the portal.
    assert "Dossieritems zoeken" in dutch and "Items zoeken" not in dutch
    # French puts a space before ":" in prose (not in code, links or placeholders).
    prose = re.compile(r"[a-zà-ÿ»]:(?=\s|$)")
    missing = [s for s in french if prose.search(re.sub(r"`[^`]*`|«[^»]*»", "", s))]
    assert missing == []
