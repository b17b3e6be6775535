"""The server answers in the language the request asks for (``Accept-Language``): the
refusal's ``message`` is Dutch or French, its ``code`` and HTTP status are the same as in
English; without the header, or with a language Koppel does not speak, it is English.

The app in process (``demo_app``): the language is chosen by the app's own middleware for
each request, as for a real agent."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from api_in_process import TUS, AgentApi
from app_client import UPDATE, InProcess, bearer
from koppel.i18n import use_language
from koppel.protocol.device import CLIENT_ID, GRANT_TYPE, TOKEN_PATH
from koppel.protocol.updates import AGENT_UPDATE, UPDATE_HEADER
from koppel.server.adapters.api import my_files_routes
from koppel.server.adapters.http.errors import error_response
from koppel.server.domain.errors import DomainError
from koppel.server.domain.portal import console
from koppel.server.domain.setup.administration import Admin
from koppel.server.domain.setup.procedure import check_environments

# Words a Dutch message of the checklist must not contain (English left untranslated);
# words Dutch shares with English ("is", "update", "open", "in", the glossary's
# "app-connector") are not listed.
ENGLISH = frozenset(
    {
        "the",
        "and",
        "not",
        "with",
        "recorded",
        "users",
        "user",
        "has",
        "have",
        "access",
        "blocked",
        "yet",
        "firm",
        "clients",
        "cannot",
        "click",
        "done",
        "already",
        "missing",
        "main",
        "site",
        "its",
        "to",
        "for",
        "no",
        "portal",
        "authorized",
        "employees",
        "environment",
        "same",
        "address",
    }
)

# One request per refusal: (its code, its HTTP status, how to make it).
Refusal = Callable[[dict[str, str]], httpx.Response]


def _words(text: str) -> set[str]:
    """The words of a message, without what is quoted from elsewhere: commands in
    backticks, addresses, the environment's function names (General/User/...: its own
    terms, as its administrators grant them), environment codes and logins."""
    text = re.sub(r"`[^`]*`|\([^)]*koppel-admin[^)]*\)|https?://\S+", " ", text)
    text = re.sub(r"[\w ]*(?:/[\w ]+)+", " ", text)
    return {w.lower() for w in re.findall(r"[A-Za-zÀ-ÿ]+", text) if not w.isupper()}


@pytest.fixture
def refusals(demo_app: InProcess) -> dict[str, tuple[int, Refusal]]:
    """Requests that are refused, by the refusal's code."""
    anna = AgentApi(demo_app, "F10001")
    revoked = AgentApi(demo_app, "C20001")
    demo_app.ok("tokens", "revoke", "C20001", "--workstation", revoked.workstation)
    upload = anna.new_upload("offer.txt", 10)
    # bram may not use My files in C20002 (the test takes the function away).
    bram = AgentApi(demo_app, "C20002", "bram")
    demo_app.ok("users", "unauthorize", "C20002", "bram", "--function", "My files")
    previous = str(AGENT_UPDATE.previous())
    http = demo_app.client()

    def agent(api: AgentApi, method: str, path: str, **kwargs: Any) -> Refusal:
        def send(language: dict[str, str]) -> httpx.Response:
            rest = {k: v for k, v in kwargs.items() if k != "headers"}
            headers = {**kwargs.get("headers", {}), **language}
            return api.request(method, path, headers=headers, **rest)

        return send

    return {
        "token_missing": (
            401,
            lambda lang: http.get("/api/v1/environments/F10001/files", headers={**UPDATE, **lang}),
        ),
        "token_revoked": (401, agent(revoked, "GET", "files")),
        "validation_error": (
            400,
            lambda lang: http.get(
                "/api/v1/environments/F10001/files",
                headers={"Authorization": f"Bearer {anna.token}", **lang},
            ),
        ),
        "not_authorized": (403, agent(bram, "GET", "files")),
        "update_mismatch": (
            409,
            lambda lang: http.get(
                "/api/v1/environments/F10001/files",
                headers={**bearer(anna.token), UPDATE_HEADER: previous, **lang},
            ),
        ),
        "not_found": (404, agent(anna, "GET", "files/999999/content")),
        "offset_mismatch": (
            409,
            agent(
                anna,
                "PATCH",
                f"uploads/{upload}",
                content=b"12345",
                headers={
                    **TUS,
                    "Upload-Offset": "3",
                    "Content-Type": "application/offset+octet-stream",
                },
            ),
        ),
    }


CODES = [
    "token_missing",
    "token_revoked",
    "validation_error",
    "not_authorized",
    "update_mismatch",
    "not_found",
    "offset_mismatch",
]


@pytest.mark.parametrize("code", CODES)
def test_a_refusal_comes_in_the_asked_language_with_the_same_code_and_status(
    refusals: dict[str, tuple[int, Refusal]], code: str
) -> None:
    status, send = refusals[code]
    answers = {
        name: send(headers)
        for name, headers in {
            "en": {},
            "nl": {"Accept-Language": "nl-NL,nl;q=0.9,en;q=0.5"},
            "fr": {"Accept-Language": "fr-BE"},
            "de": {"Accept-Language": "de-DE"},  # not spoken: English
            "en-asked": {"Accept-Language": "en-GB"},
        }.items()
    }
    for name, answer in answers.items():
        assert answer.status_code == status, (name, answer.text)
        assert answer.json()["code"] == code, (name, answer.text)
    english = answers["en"].json()["message"]
    assert answers["de"].json()["message"] == english
    assert answers["en-asked"].json()["message"] == english
    dutch, french = answers["nl"].json()["message"], answers["fr"].json()["message"]
    assert dutch != english and french != english and dutch != french
    assert answers["nl"].headers.get("content-type", "").startswith("application/json")


def test_the_language_switch_s_cookie_beats_the_browser_for_every_answer(
    refusals: dict[str, tuple[int, Refusal]],
) -> None:
    # A refusal made before any page is drawn follows the switch too, so a browser set to
    # English whose user chose Dutch on the portal reads Dutch everywhere.
    _, send = refusals["token_missing"]
    english = send({"Accept-Language": "en-GB"}).json()["message"]
    dutch = send({"Accept-Language": "nl"}).json()["message"]
    switched = send({"Accept-Language": "en-GB", "Cookie": "koppel_lang=nl"}).json()
    assert switched["message"] == dutch != english
    assert switched["code"] == "token_missing"
    ignored = send({"Accept-Language": "fr", "Cookie": "koppel_lang=de"}).json()["message"]
    assert ignored == send({"Accept-Language": "fr"}).json()["message"]  # not spoken


def test_dutch_and_french_refusals_read_as_such(refusals: dict[str, tuple[int, Refusal]]) -> None:
    """A few refusals word for word: the translation is the catalog's sentence."""
    _, send = refusals["token_missing"]
    nl = send({"Accept-Language": "nl"}).json()["message"]
    fr = send({"Accept-Language": "fr"}).json()["message"]
    assert nl.startswith("Voor dit verzoek is het gebruikerstoken van de werkplek nodig"), nl
    assert fr.startswith("Cette requête nécessite le jeton utilisateur du poste de travail"), fr
    _, send = refusals["validation_error"]  # a missing header: a message marked N_
    assert send({"Accept-Language": "nl"}).json()["message"] == (
        f"Stuur de update van de agent mee in de header {UPDATE_HEADER} (bijv. 2026.2)."
    )
    _, send = refusals["offset_mismatch"]
    assert "et non 3" in send({"Accept-Language": "fr"}).json()["message"]


def test_a_sync_endpoint_run_in_the_threadpool_keeps_the_request_s_language(
    refusals: dict[str, tuple[int, Refusal]],
) -> None:
    """FastAPI runs ``def`` endpoints in a worker thread; Starlette copies the request's
    context (the language's ContextVar) into it, so their refusals are translated too."""
    assert not asyncio.iscoroutinefunction(my_files_routes.file_content)
    _, send = refusals["not_found"]  # GET files/{id}/content: file_content
    nl = send({"Accept-Language": "nl"}).json()["message"]
    assert nl == "Er is geen bestand 999999 in uw Mijn bestanden.", nl


def test_the_router_s_own_refusals_are_translated(demo_app: InProcess) -> None:
    http = demo_app.client()
    missing = http.get("/api/v1/nowhere", headers={"Accept-Language": "fr"})
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert missing.json()["message"].startswith("Il n'y a rien à cette adresse")
    wrong = http.delete("/api/v1/links", headers={"Accept-Language": "nl"})
    assert wrong.status_code == 405 and wrong.json()["code"] == "validation_error"
    assert "is hier niet toegestaan" in wrong.json()["message"]


def test_the_device_flow_s_oauth_errors_are_translated_in_ascii(demo_app: InProcess) -> None:
    """RFC 6749 allows only ASCII in ``error_description``: French keeps its letters
    without their accents; ``error`` stays the OAuth code."""
    form = {"grant_type": GRANT_TYPE, "device_code": "unknown", "client_id": CLIENT_ID}
    http = demo_app.client()
    english = http.post(TOKEN_PATH, data=form)
    french = http.post(TOKEN_PATH, data=form, headers={"Accept-Language": "fr"})
    assert english.status_code == french.status_code == 400
    assert english.json()["error"] == french.json()["error"] == "invalid_grant"
    assert english.json()["error_description"].startswith("This device code is unknown")
    assert french.json()["error_description"] == (
        "Ce code d'appareil est inconnu ou a deja ete utilise."
    )


def test_a_stored_denial_is_shown_in_the_polling_agent_s_language() -> None:
    """The browser's user denies in one language; the agent polls in another: the reason
    is stored in English with its values and translated when read."""
    from koppel.server.domain.portal import device_approval as da

    stored = da.stored_denial(da._NOT_A_USER, {"login": "anna", "code": "C29999"})
    with use_language("nl"):
        dutch = da.denial_text(stored)
    with use_language("en"):
        english = da.denial_text(stored)
        assert da.denial_text("An old plain reason.") == "An old plain reason."
        assert da.denial_text(None) == "Denied."
    assert english.startswith("anna is not a user of environment C29999")
    assert dutch.startswith("anna is geen gebruiker van omgeving C29999")


def test_the_admin_checklist_has_no_english_left_in_dutch(demo_app: InProcess) -> None:
    """The checklist's titles and details (the portal's admin page) and a refusal about a
    step (an ErrorBody) in Dutch: no English word left."""
    demo_app.ok("users", "unauthorize", "C20001", "anna", "--function", "Save settings")
    demo_app.ok("connector", "block", "C20002", "communication-center")
    # A client on another update than its firm: a step no click can do.
    previous = str(AGENT_UPDATE.previous())
    demo_app.ok("env", "create", "C29999", "--kind", "client", "--update", previous)
    demo_app.ok("env", "set-firm", "C29999", "F10001")
    with demo_app.transaction() as uow, use_language("nl"):
        checks = check_environments(uow.core, demo_app.svc.policy, catalogs=uow.templates)
    steps = [step for check in checks for step in check.steps]
    assert len(steps) > 10
    for step in steps:
        for text in (step.title, step.detail):
            left = _words(text) & ENGLISH
            assert not left, (step.key, text, left)
    missing = [s for s in steps if not s.done]
    assert {s.key for s in missing} >= {"authorizations", "connector", "update", "clients-update"}

    # A step a click cannot do, refused as the API would answer it.
    with demo_app.transaction() as uow:
        admin = Admin.of(uow, demo_app.svc.policy, "test")
        with use_language("nl"):
            with pytest.raises(DomainError) as refused:
                console.apply_step(admin, "C29999", "update")
            body = error_response(refused.value).body
    message = httpx.Response(200, content=body).json()["message"]
    assert message.startswith("Dezelfde update als de omgeving van het kantoor (C29999)"), message
    assert not (_words(message) & ENGLISH), message


def test_a_checklist_in_french_names_the_steps_in_french(demo_app: InProcess) -> None:
    with demo_app.transaction() as uow, use_language("fr"):
        checks = check_environments(
            uow.core, demo_app.svc.policy, ["F10001"], catalogs=uow.templates
        )
    titles = [step.title for step in checks[0].steps]
    assert "App de connexion Communication Center ouverte" in titles
    assert any(t.startswith("Utilisateurs autorisés pour ") for t in titles), titles


def test_upload_metadata_refusal_quotes_the_bad_key_in_every_language(
    demo_app: InProcess,
) -> None:
    anna = AgentApi(demo_app, "F10001")
    bad = base64.b64encode(b"\xff\xfe").decode()
    headers = {**TUS, "Upload-Length": "3", "Upload-Metadata": f"filename {bad}"}
    for language in ("en", "nl", "fr"):
        answer = anna.request("POST", "uploads", headers={**headers, "Accept-Language": language})
        assert answer.status_code == 400 and answer.json()["code"] == "validation_error"
        assert "'filename'" in answer.json()["message"]


def test_file_name_and_extension_refusals_explain_in_the_asked_language(
    demo_app: InProcess,
) -> None:
    """The reason a name is refused comes from the rules the server and the agent share
    (koppel.protocol.filenames): it is translated too, inside the server's sentence."""
    anna = AgentApi(demo_app, "F10001")

    def create(name: str, language: str) -> httpx.Response:
        meta = f"filename {base64.b64encode(name.encode()).decode()}"
        headers = {**TUS, "Upload-Length": "3", "Upload-Metadata": meta}
        return anna.request("POST", "uploads", headers={**headers, "Accept-Language": language})

    english, french = create("CON.txt", "en"), create("CON.txt", "fr")
    assert english.status_code == french.status_code == 400
    assert english.json()["code"] == french.json()["code"] == "unsafe_name"
    assert "Windows reserves for a device" in english.json()["message"]
    assert french.json()["message"].startswith(
        "Le nom de fichier 'CON.txt' ne peut pas être utilisé\u00a0: c'est un nom que Windows "
        "réserve à un périphérique"
    ), french.json()["message"]

    dutch = create("tool.exe", "nl")
    assert dutch.status_code == 415 and dutch.json()["code"] == "extension_not_allowed"
    assert dutch.json()["message"].startswith(
        "'tool.exe' kan niet worden geüpload naar F10001: bestanden die eindigen op"
    ), dutch.json()["message"]
    assert (
        dutch.json()["allowed_extensions"] == create("tool.exe", "en").json()["allowed_extensions"]
    )
