"""Tenant isolation, route by route (issue 9, "Keep it found"): every operation of the
OpenAPI document is called by strangers, and none hands them another environment's or
another user's data.

The victim is anna in C20001: a confidential item (Payslip: only the Payroll group and its
author see it), a ready file in her My files, an upload in progress.
The strangers are:

* carla, a user of C20002 only: her token (or password) on C20001 ("other environment"),
  and her token on C20002 naming C20001's ids ("other environment's ids");
* bram, a user of C20001 outside the Payroll group: his token naming anna's ids ("other
  user's ids").

A refusal is 401, 403 or 404 with the uniform answer of item 3 (an ``ErrorBody`` with one
of the codes in ``REFUSALS``); a 2xx is allowed only where the route answers about the
caller's own things, and then it must not carry the victim's data. Afterwards the victim's
things are all still there, unchanged.

``CASES`` says how to call each operation. An operation of the document without a case
fails the test ("add a case for METHOD PATH"): new routes are covered as they come. Most
need one line: ``bearer()`` for a Bearer route (its path ids are filled with the victim's),
with a body or headers when it needs them; ``basic()`` for a route that takes a password.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

import device_support
from api_in_process import TUS, AgentApi
from app_client import DEMO_PASSWORD, UPDATE, InProcess, bearer
from koppel.protocol.functions import Function

VICTIM_ENV, OTHER_ENV = "C20001", "C20002"
# Strings only the victim's answers may contain.
SUBJECT = "Salary slip 7F3A"
FILE_NAME = "bonus-letter-91B2.txt"
FILE_CONTENT = b"secret figures 55C1"
UPLOAD_NAME = "draft-payroll-3D7E.txt"
ITEM_CONTENT = b"net pay 4C9D"
VICTIM_ENV_NAME = "Bakkerij Jansen"

REFUSALS = {
    401: {"token_invalid", "token_missing", "invalid_credentials"},
    403: {"token_wrong_environment", "not_a_member", "not_authorized"},
    404: {"not_found"},
}


@dataclass
class World:
    """The victim's things and the strangers' credentials."""

    app: InProcess
    anna: AgentApi  # the victim, C20001
    bram: AgentApi  # another user of C20001, outside the Payroll group
    carla: AgentApi  # a user of C20002 only
    ids: dict[str, Any] = field(default_factory=dict)  # the victim's ids by path name


@dataclass
class Attempt:
    """One request by a stranger, and what it must not get."""

    who: str
    method: str
    url: str
    kwargs: dict[str, Any]
    # None: a refusal (see REFUSALS). Otherwise the statuses allowed, for routes that
    # answer about the caller's own things (their body is still searched for leaks).
    allowed: set[int] | None = None
    secrets: tuple[str, ...] = ()
    # For an allowed answer with a body: what it must say (e.g. that C20001 was refused).
    check: Callable[[Any], bool] | None = None


Case = Callable[[World, str, str], list[Attempt]]


def _fill(path: str, env: str, ids: dict[str, Any]) -> str:
    path = path.replace("{env}", env)
    return re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), path)


PRIVATE = (SUBJECT, FILE_NAME, FILE_CONTENT.decode(), UPLOAD_NAME, ITEM_CONTENT.decode())


def bearer_route(
    *, ids: bool | None = None, allowed: set[int] | None = None, **kwargs: Any
) -> Case:
    """A Bearer route: carla's token on C20001; and, when the path or body names the
    victim's things (``ids``, default: the path has ids), carla's token on C20002 and
    bram's on C20001 naming them. ``kwargs`` (a body, headers) may be a function of the
    world."""

    def attempts(world: World, method: str, path: str) -> list[Attempt]:
        extra = kwargs["make"](world) if "make" in kwargs else dict(kwargs)
        headers = {**TUS, **extra.pop("headers", {})}
        names_ids = ids if ids is not None else "_id}" in path
        found = [
            Attempt(
                "carla's C20002 token on C20001",
                method,
                _fill(path, VICTIM_ENV, world.ids),
                {**extra, "headers": {**bearer(world.carla.token), **headers}},
                secrets=(*PRIVATE, VICTIM_ENV_NAME),
            )
        ]
        if names_ids:
            found += [
                Attempt(
                    "carla's C20002 token naming C20001's ids",
                    method,
                    _fill(path, OTHER_ENV, world.ids),
                    {**extra, "headers": {**bearer(world.carla.token), **headers}},
                    allowed,
                    secrets=(*PRIVATE, VICTIM_ENV_NAME),
                ),
                Attempt(
                    "bram's C20001 token naming anna's ids",
                    method,
                    _fill(path, VICTIM_ENV, world.ids),
                    {**extra, "headers": {**bearer(world.bram.token), **headers}},
                    allowed,
                    secrets=PRIVATE,
                ),
            ]
        return found

    return attempts


def basic_route(env: str = VICTIM_ENV, **kwargs: Any) -> Case:
    """A route that takes a login and password or an approval's access token: carla's
    password (a user of C20002 only) on ``env`` (the victim's, or the firm for its
    bundle), a wrong password for anna, and carla's approval of her own environment."""

    def attempts(world: World, method: str, path: str) -> list[Attempt]:
        url = _fill(path, env, {**world.ids, "login": "anna"})
        found = []
        basic = {
            who: "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()
            for who, login, password in (
                ("carla's password on C20001", "carla", DEMO_PASSWORD),
                ("a wrong password for anna", "anna", "not-her-password"),
            )
        }
        approval = {"carla's approval of C20002 on C20001": f"Bearer {world.ids['approval']}"}
        for who, authorization in (basic | approval).items():
            headers = {**UPDATE, "Authorization": authorization, **kwargs.get("headers", {})}
            found.append(
                Attempt(
                    who,
                    method,
                    url,
                    {**kwargs, "headers": headers},
                    secrets=(*PRIVATE, VICTIM_ENV_NAME),
                )
            )
        return found

    return attempts


def key_route(**kwargs: Any) -> Case:
    """The integration push: C20002's integration key on C20001, and anna's password."""

    def attempts(world: World, method: str, path: str) -> list[Attempt]:
        url = _fill(path, VICTIM_ENV, {**world.ids, "login": "anna"})
        password = base64.b64encode(f"anna:{DEMO_PASSWORD}".encode()).decode()
        return [
            Attempt(
                who,
                method,
                url,
                {**kwargs, "headers": {**UPDATE, "Authorization": auth, **kwargs["headers"]}},
                secrets=(*PRIVATE, VICTIM_ENV_NAME),
            )
            for who, auth in (
                ("C20002's integration key on C20001", f"Bearer {world.ids['other_key']}"),
                ("anna's own password", f"Basic {password}"),
            )
        ]

    return attempts


def _oauth_error(error: str) -> Callable[[Any], bool]:
    return lambda body: bool(body.get("error") == error)


def device_authorize_route(world: World, method: str, path: str) -> list[Attempt]:
    """Anyone may start an approval for C20001: the answer is the same as for any code
    and names nothing of it."""
    form = {"client_id": "koppel-agent", "scope": f"settings:{VICTIM_ENV}", "workstation": "x"}
    return [
        Attempt(
            "anyone, for C20001",
            method,
            path,
            {"data": form},
            {200},
            (*PRIVATE, VICTIM_ENV_NAME),
            lambda body: set(body) >= {"device_code", "user_code", "verification_uri"},
        )
    ]


def device_token_route(world: World, method: str, path: str) -> list[Attempt]:
    """Polling with a made-up device code, and with carla's approval of C20001 (she is not
    a user of it, so the approval was denied): no token, nothing about C20001."""
    poll = {
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
        "client_id": "koppel-agent",
    }
    return [
        Attempt(
            who,
            method,
            path,
            {"data": {**poll, "device_code": code}},
            {400},
            (*PRIVATE, VICTIM_ENV_NAME),
            _oauth_error(error),
        )
        for who, code, error in (
            ("a made-up device code", "x" * 43, "invalid_grant"),
            ("carla's approval of C20001", world.ids["carla_denied"], "access_denied"),
        )
    ]


def public_route(world: World, method: str, path: str) -> list[Attempt]:
    """A route without credentials: it must say nothing about any environment."""
    return [
        Attempt("anyone", method, path, {"headers": UPDATE}, {200}, (*PRIVATE, VICTIM_ENV_NAME))
    ]


def _refused_in(key: str) -> Callable[[Any], bool]:
    """The bulk answer's one entry (under ``key``) refuses C20001 and names nothing of it."""

    def check(body: Any) -> bool:
        (entry,) = body[key]
        return bool(
            entry["environment"] == VICTIM_ENV
            and entry["state"] in {"token_invalid", "token_wrong_environment"}
            and not entry.get("name")
            and not entry.get("files")
        )

    return check


def bulk_route(
    body: Callable[[World], dict[str, Any]],
    allowed: set[int],
    check: Callable[[Any], bool] | None = None,
) -> Case:
    """A route that takes tokens in its body: carla's token named as C20001's, and a junk
    token for it; the answer may be 2xx but refuses C20001 and tells nothing about it."""

    def attempts(world: World, method: str, path: str) -> list[Attempt]:
        return [
            Attempt(
                f"{who} for C20001 in the body",
                method,
                path,
                {"headers": UPDATE, "json": body(world) | {"environments": [query]}},
                allowed,
                (*PRIVATE, VICTIM_ENV_NAME),
                check,
            )
            for who, query in (
                ("carla's C20002 token", {"environment": VICTIM_ENV, "token": world.carla.token}),
                ("a junk token", {"environment": VICTIM_ENV, "token": "kplt_junk"}),
            )
        ]

    return attempts


def links_route(world: World, method: str, path: str) -> list[Attempt]:
    """Linking with carla's settings file for C20002 rewritten to name C20001."""
    settings = world.app.settings_file(OTHER_ENV, "carla")
    settings["environment"] = {**settings["environment"], "code": VICTIM_ENV}
    body = {"workstation": {"id": "ws-stranger", "name": "stranger"}, "settings": [settings]}
    return [
        Attempt(
            "carla's settings file rewritten for C20001",
            method,
            path,
            {"headers": UPDATE, "json": body},
            {400},
            (*PRIVATE, VICTIM_ENV_NAME),
        )
    ]


def events_route(world: World, method: str, path: str) -> list[Attempt]:
    """An event stream by an unknown session id, and carla's own session: neither carries
    anything of C20001."""
    opened = world.carla.http.post(
        "/api/v1/event-sessions",
        headers=UPDATE,
        json={
            "environments": [{"environment": OTHER_ENV, "token": world.carla.token}],
            "workstation_id": world.carla.workstation,
        },
    )
    assert opened.status_code == 201, opened.text
    assert opened.json()["environments"] == [OTHER_ENV]
    return [
        Attempt("an unknown session", method, path.replace("{session}", "x" * 32), {}),
        Attempt(
            "carla's own session, from the first event",
            method,
            path.replace("{session}", opened.json()["session"]),
            {"headers": {"Last-Event-ID": "0"}},
            {200},
            (*PRIVATE, VICTIM_ENV_NAME),
        ),
    ]


def _new_version_body(world: World) -> dict[str, Any]:
    # The stranger's own finished upload, saved over the victim's attachment.
    return {
        "json": {"upload": world.bram.upload("mine.txt", b"overwrite")},
        "headers": {"If-Match": world.ids["etag"]},
    }


def _item_body(world: World) -> dict[str, Any]:
    # An item made of the victim's upload.
    return {
        "json": {
            "submission_id": "stranger-0001",
            "subject": "Taken",
            "type": "Correspondence",
            "destination": "ORG",
            "uploads": [world.ids["upload_id"]],
        }
    }


ENV = "/api/v1/environments/{env}"
# How to call each operation of the document as a stranger. Add a line for a new route.
CASES: dict[tuple[str, str], Case] = {
    ("GET", "/api/v1/info"): public_route,
    ("GET", f"{ENV}/settings"): basic_route(),
    ("GET", f"{ENV}/settings-bundle"): basic_route(env="F10001"),
    ("GET", f"{ENV}/installation"): basic_route(),
    ("POST", f"{ENV}/users/{{login}}/files"): key_route(
        content=b"pushed by a stranger", headers={"Koppel-Filename": "pushed.txt"}
    ),
    ("POST", "/api/v1/device/authorize"): device_authorize_route,
    ("POST", "/api/v1/device/token"): device_token_route,
    ("GET", f"{ENV}/upload-rules"): bearer_route(),
    ("POST", "/api/v1/links"): links_route,
    ("POST", "/api/v1/status"): bulk_route(lambda w: {}, {200}, _refused_in("statuses")),
    ("POST", "/api/v1/files/pending"): bulk_route(
        lambda w: {"workstation_id": w.carla.workstation}, {200}, _refused_in("environments")
    ),
    ("POST", "/api/v1/event-sessions"): bulk_route(
        lambda w: {"workstation_id": w.carla.workstation}, set()
    ),
    ("GET", "/api/v1/events/{session}"): events_route,
    ("GET", f"{ENV}/me"): bearer_route(),
    ("DELETE", f"{ENV}/link"): bearer_route(),
    ("POST", f"{ENV}/uploads"): bearer_route(
        headers={"Upload-Length": "5", "Upload-Metadata": "filename eC50eHQ="}
    ),
    ("HEAD", f"{ENV}/uploads/{{upload_id}}"): bearer_route(),
    ("PATCH", f"{ENV}/uploads/{{upload_id}}"): bearer_route(
        content=b"12345",
        headers={"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
    ),
    ("DELETE", f"{ENV}/uploads/{{upload_id}}"): bearer_route(),
    ("GET", f"{ENV}/destinations"): bearer_route(),
    ("GET", f"{ENV}/item-types"): bearer_route(),
    ("POST", f"{ENV}/items"): bearer_route(ids=True, make=_item_body),
    # Searching is allowed: the stranger's own dossier, without the victim's items.
    ("GET", f"{ENV}/items"): bearer_route(ids=True, allowed={200}),
    ("GET", f"{ENV}/items/{{item_id}}"): bearer_route(),
    ("GET", f"{ENV}/items/{{item_id}}/edit"): bearer_route(),
    ("GET", f"{ENV}/items/{{item_id}}/content"): bearer_route(),
    ("GET", f"{ENV}/items/{{item_id}}/attachments/{{attachment_id}}/versions"): bearer_route(),
    ("POST", f"{ENV}/items/{{item_id}}/attachments/{{attachment_id}}/versions"): bearer_route(
        make=_new_version_body
    ),
    ("GET", f"{ENV}/items/{{item_id}}/attachments/{{attachment_id}}/content"): bearer_route(),
    ("GET", f"{ENV}/files"): bearer_route(ids=True, allowed={200}),
    ("GET", f"{ENV}/files/{{file_id}}/content"): bearer_route(),
    ("POST", f"{ENV}/files/{{file_id}}/delivered"): bearer_route(),
    ("POST", f"{ENV}/analyses"): bearer_route(json={"kind": "dossier-overview"}),
    ("GET", f"{ENV}/release"): bearer_route(),
    ("GET", f"{ENV}/release/wheel"): bearer_route(),
}


@pytest.fixture
def world(demo_app: InProcess) -> World:
    from koppel.server.domain.setup.administration import Admin

    with demo_app.transaction() as uow:
        admin = Admin(uow.core, demo_app.svc.policy, "test")
        admin.create_account("carla", "Carla Stranger", DEMO_PASSWORD)
        admin.add_user(OTHER_ENV, "carla")
        admin.authorize_user(
            OTHER_ENV, "carla", [Function.MY_FILES, Function.SAVE_SETTINGS, Function.APP_CONNECTOR]
        )
    anna = AgentApi(demo_app, VICTIM_ENV, "anna")
    anna.open_editing()
    item = anna.create_item(SUBJECT, "Payslip", "E0001", {"payslip.txt": ITEM_CONTENT})
    world = World(
        demo_app,
        anna,
        AgentApi(demo_app, VICTIM_ENV, "bram"),
        AgentApi(demo_app, OTHER_ENV, "carla"),
    )
    world.ids = {
        "item_id": item["id"],
        "attachment_id": item["attachments"][0]["id"],
        "file_id": anna.publish(FILE_NAME, FILE_CONTENT),
        "upload_id": anna.new_upload(UPLOAD_NAME, 10),
        "etag": item["attachments"][0]["current"]["etag"],
        "approval": _approved(demo_app, f"settings:{OTHER_ENV}", "carla"),
        "carla_denied": _denied(demo_app, f"settings:{VICTIM_ENV}", "carla"),
        "other_key": _integration_key(demo_app, OTHER_ENV),
    }
    return world


def _approved(app: InProcess, scope: str, login: str) -> str:
    """An access token of ``login``'s approval of ``scope`` in the browser."""
    agent, browser = app.client(), app.client()
    started = device_support.start(agent, scope)
    asked = device_support.sign_in(browser, started["user_code"], login, DEMO_PASSWORD)
    device_support.decide(browser, asked, started["user_code"], "approve")
    app.clock.advance(seconds=6)
    granted = device_support.poll(agent, started["device_code"])
    assert granted.status_code == 200, granted.text
    return str(granted.json()["access_token"])


def _denied(app: InProcess, scope: str, login: str) -> str:
    """The device code of an approval that ``login`` could not give (not a user)."""
    started = device_support.start(app.client(), scope)
    browser = app.client()
    asked = device_support.sign_in(browser, started["user_code"], login, DEMO_PASSWORD)
    device_support.decide(browser, asked, started["user_code"], "approve")
    return str(started["device_code"])


def _integration_key(app: InProcess, env: str) -> str:
    from koppel.server.domain import integrations

    with app.transaction() as uow:
        key, _ = integrations.create(
            uow.core, uow.integration_keys, app.svc.policy, "test", env, "scanner"
        )
    return key


def _operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted(
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    )


def test_every_operation_of_the_document_has_a_case(demo_app: InProcess) -> None:
    missing = [
        f"add a case for {method} {path} to CASES in {__name__}.py"
        for method, path in _operations(demo_app.app.openapi())
        if (method, path) not in CASES
    ]
    assert not missing, "\n".join(missing)


def _leaks(attempt: Attempt, response: httpx.Response) -> list[str]:
    text = response.content.decode("utf-8", "replace")
    return [secret for secret in attempt.secrets if secret in text]


def _problem(attempt: Attempt, response: httpx.Response) -> str | None:
    """What is wrong with the answer to ``attempt``, or None."""
    leaked = _leaks(attempt, response)
    if leaked:
        return f"leaked {leaked}"
    status = response.status_code
    if attempt.allowed is not None and status in attempt.allowed:
        if attempt.check is not None and not attempt.check(response.json()):
            return f"answered {status} without refusing: {response.text[:300]}"
        return None
    if status not in REFUSALS:
        return f"answered {status}, not a refusal: {response.text[:300]}"
    if attempt.method == "HEAD":
        return None  # no body to judge
    try:
        body = response.json()
    except json.JSONDecodeError:
        return f"refused without an ErrorBody: {response.text[:300]}"
    if body.get("code") not in REFUSALS[status] or not body.get("message"):
        return f"refused {status} with {body}"
    return None


def test_strangers_get_nothing_from_any_route(world: World) -> None:
    client = world.app.client()
    operations = [op for op in _operations(world.app.app.openapi()) if op in CASES]
    problems = []
    tried = 0
    for method, path in operations:
        for attempt in CASES[(method, path)](world, method, path):
            response = client.request(attempt.method, attempt.url, **attempt.kwargs)
            tried += 1
            problem = _problem(attempt, response)
            if problem:
                problems.append(f"{method} {path} by {attempt.who}: {problem}")
    assert not problems, "\n".join(problems)
    assert tried >= 2 * len(operations)
    _victim_is_untouched(world)


def _victim_is_untouched(world: World) -> None:
    anna = world.anna
    ids = world.ids
    item = anna.request("GET", f"items/{ids['item_id']}").json()
    assert item["subject"] == SUBJECT and item["attachments"][0]["versions"] == 1
    content = anna.request(
        "GET", f"items/{ids['item_id']}/attachments/{ids['attachment_id']}/content"
    )
    assert content.content == ITEM_CONTENT
    files = anna.request("GET", "files").json()["files"]
    assert [(f["name"], f["delivered"]) for f in files] == [(FILE_NAME, False)]
    upload = anna.request("HEAD", f"uploads/{ids['upload_id']}", headers=TUS)
    assert upload.status_code == 200 and upload.headers["Upload-Offset"] == "0"
    assert anna.request("GET", "items").json()["total"] == 1
    assert anna.request("GET", "me").status_code == 200
