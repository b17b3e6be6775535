"""Schemathesis against the live app's own OpenAPI document, in process, with a real token
(issue 9, "Keep it found"). Every operation of the document is called with generated
requests, schema-valid and schema-invalid, in schemathesis's phases (examples, coverage:
boundaries and unexpected methods such as TRACE, fuzzing, and stateful sequences linked
by what schemathesis infers: tus ``Location`` headers, ids in answers). It fails on any 5xx, any
response that breaks the document, a schema-valid request refused or a schema-invalid one
accepted, unless an exception below says why the document cannot state the rule.

Generated parameters are mostly drawn from real values (the token's environment, real
item, attachment, file and upload ids, logins, the token in the bulk calls' bodies) so
that requests reach the rules behind authentication, and sometimes left to schemathesis.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import StopReason, events

from api_in_process import AgentApi
from app_client import DEMO_PASSWORD, UPDATE, InProcess, make_in_process

# tus PATCH bodies are raw bytes, as application/octet-stream bodies are.
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")

# Statuses a schema-valid request may get besides the usual ones (2xx, 401, 403, 404,
# 409, 429), per operation, and why the document cannot state the rule behind them.
ALSO_ACCEPTED: dict[tuple[str, str], tuple[list[str], str]] = {
    ("POST", "/api/v1/links"): (
        ["400"],
        "a settings document counts only as the server signed it (settings_tampered); a "
        "schema cannot state a signature",
    ),
    ("POST", "/api/v1/environments/{env}/uploads"): (
        ["400", "413", "415", "460"],
        "the name rules apply to the file name decoded from Upload-Metadata, the size "
        "limit is the server's setting (KOPPEL_MAX_UPLOAD_MB), the allowed extensions the "
        "environment's list; a body (creation-with-upload) must fit the declared length "
        "and match Upload-Checksum (460)",
    ),
    ("PATCH", "/api/v1/environments/{env}/uploads/{upload_id}"): (
        ["410", "413", "460"],
        "the body must fit the upload's declared length and match Upload-Checksum "
        "(460, tus checksum extension); an upload expires",
    ),
    ("POST", "/api/v1/environments/{env}/items/{item_id}/attachments/{attachment_id}/versions"): (
        ["412"],
        "If-Match must name the attachment's current version (412 version_conflict): a "
        "state of the server, not a form of the request",
    ),
    ("POST", "/api/v1/environments/{env}/users/{login}/files"): (
        ["400", "415"],
        "the file's name comes from the multipart part or from Koppel-Filename, one of the "
        "two (OpenAPI cannot tie a header to one content type), and its extension must be "
        "on the environment's list",
    ),
    ("POST", "/api/v1/device/token"): (
        ["400"],
        "a device code counts only as the server issued it, and polling is answered 400 "
        "while the user has not decided (RFC 8628: authorization_pending, invalid_grant)",
    ),
}
# Operations that need not answer 2xx to generated requests, and why.
NO_SUCCESS_NEEDED: dict[tuple[str, str], str] = {
    ("POST", "/api/v1/links"): "a link needs a settings document the server signed, with an "
    "unused enrollment code; the fixture links for real (AgentApi)",
    (
        "POST",
        "/api/v1/environments/{env}/items/{item_id}/attachments/{attachment_id}/versions",
    ): "a version needs a finished upload and the current version's ETag; the fixture "
    "saves one for real (AgentApi.new_version)",
    ("GET", "/api/v1/environments/{env}/installation"): "no agent wheel is built for the "
    "test data folder: 503 installation_unavailable",
    ("GET", "/api/v1/environments/{env}/settings-bundle"): "only a firm has a bundle; the "
    "requests name the token's environment, a client (the bundle has its own tests)",
    ("POST", "/api/v1/device/token"): "a token needs a user's approval in the browser "
    "(test_device_approval.py walks it)",
}
# The statuses schemathesis expects by default for a schema-invalid request and for a
# missing required header.
NEGATIVE = ["400", "401", "403", "404", "405", "406", "409", "415", "422", "428", "429"]
MISSING_HEADER = ["400", "401", "403", "406", "415", "422"]


@dataclass
class Live:
    """The in-process app with a practice worth exploring."""

    app: InProcess
    anna: AgentApi
    spare: AgentApi  # a second workstation's token: DELETE link may revoke it
    ids: list[int]
    uploads: list[str]
    sessions: list[str]
    integration_key: str  # C20001's, for the integration push


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    app = make_in_process(tmp_path / "server")
    try:
        anna = AgentApi(app, "C20001", "anna")
        anna.open_editing()
        item = anna.create_item("Offer", "Correspondence", "ORG", {"offer.txt": b"version 1"})
        anna.new_version(item, b"version 2")
        file_id = anna.publish("report.txt", b"ready")
        session = anna.http.post(
            "/api/v1/event-sessions",
            headers=UPDATE,
            json={
                "environments": [{"environment": "C20001", "token": anna.token}],
                "workstation_id": anna.workstation,
            },
        )
        assert session.status_code == 201, session.text
        yield Live(
            app,
            anna,
            AgentApi(app, "C20001", "anna"),
            sorted({item["id"], item["attachments"][0]["id"], file_id, 1, 2}),
            [anna.new_upload(f"draft-{n}.txt", 10) for n in range(3)],
            [session.json()["session"]],
            _integration_key(app, "C20001"),
        )
    finally:
        app.close()


def _integration_key(app: InProcess, env: str) -> str:
    from koppel.server.domain import integrations

    with app.transaction() as uow:
        key, _ = integrations.create(
            uow.core, uow.integration_keys, app.svc.policy, "test", env, "payroll"
        )
    return key


def _config(live: Live) -> SchemathesisConfig:
    operations: list[dict[str, Any]] = [
        {
            "include-name": f"{method} {path}",
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "429", *more]
                }
            },
        }
        for (method, path), (more, _why) in ALSO_ACCEPTED.items()
    ]
    operations += [
        {
            "include-name": f"{method} {path}",
            "checks": {
                "negative_data_rejection": {"expected-statuses": [*NEGATIVE, "412"]},
                "missing_required_header": {"expected-statuses": [*MISSING_HEADER, "412"]},
            },
        }
        for method, path in _operations(live.app.app.openapi())
        if "/uploads" in path  # tus 1.0: a wrong or missing Tus-Resumable is a 412
    ]
    operations.append(
        {
            # The event stream never ends by itself: a second of it is enough.
            "include-name": "GET /api/v1/events/{session}",
            "request-timeout": 1,
        }
    )
    operations.append(
        {
            "include-name": "DELETE /api/v1/environments/{env}/link",
            "headers": {"Authorization": f"Bearer {live.spare.token}"},
        }
    )
    return SchemathesisConfig.from_dict(
        {
            "seed": 20269,
            "workers": 1,
            "headers": UPDATE,
            "auth": {
                "openapi": {
                    "HTTPBearer": {"bearer": live.anna.token},
                    "HTTPBasic": {"username": "anna", "password": DEMO_PASSWORD},
                    "IntegrationKey": {"bearer": live.integration_key},
                }
            },
            "generation": {"max-examples": 10, "mode": "all"},
            "phases": {"stateful": {"max-steps": 10, "generation": {"max-examples": 5}}},
            "operations": operations,
            "dictionaries": {
                "environments": {"values": ["C20001"]},  # the token's environment
                "ids": {"values": live.ids},
                "uploads": {"values": live.uploads},
                "sessions": {"values": live.sessions},
                "logins": {"values": ["anna", "bram"]},
                # A pushed file's name needs an extension on the environment's list.
                "filenames": {"values": ["Loonstrook 2026-11.pdf", "bank.csv"]},
                "tokens": {"values": [live.anna.token]},
                "workstations": {"values": [live.anna.workstation]},
            },
            "parameters": {
                "path.env": {"dictionary": "environments", "probability": 0.9},
                "path.item_id": {"dictionary": "ids", "probability": 0.7},
                "path.attachment_id": {"dictionary": "ids", "probability": 0.7},
                "path.file_id": {"dictionary": "ids", "probability": 0.7},
                "path.upload_id": {"dictionary": "uploads", "probability": 0.7},
                "path.session": {"dictionary": "sessions", "probability": 0.7},
                "path.login": {"dictionary": "logins", "probability": 0.8},
                "header.Koppel-Filename": {"dictionary": "filenames", "probability": 0.7},
                # The bulk calls name environments and tokens in their bodies.
                "body.environments[*].environment": {"dictionary": "environments"},
                "body.environments[*].token": {"dictionary": "tokens", "probability": 0.8},
                "body.workstation_id": {"dictionary": "workstations", "probability": 0.8},
                "body.upload": {"dictionary": "uploads", "probability": 0.5},
                "body.uploads[*]": {"dictionary": "uploads", "probability": 0.5},
            },
        }
    )


def _operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }


def test_the_api_keeps_to_its_document(live: Live) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", live.app.app, config=_config(live))
    document = live.app.app.openapi()
    failures: dict[tuple[str, str], set[str]] = defaultdict(set)
    statuses: dict[str, set[int]] = defaultdict(set)
    stop: StopReason | None = None
    started = time.monotonic()
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            for case_id, interaction in recorder.interactions.items():
                if interaction.response is not None:
                    case = recorder.cases[case_id].value
                    statuses[f"{case.method} {case.operation.path}"].add(
                        interaction.response.status_code
                    )
            for case_id, checks in recorder.checks.items():
                case = recorder.cases[case_id].value
                operation = (case.method.upper(), case.operation.path)
                for check in checks:
                    if check.failure_info is None:
                        continue
                    failure = check.failure_info.failure
                    failures[operation].add(
                        f"{check.name}: {failure.title}: {failure.message}\n"
                        f"    {case.method} {case.formatted_path} query={case.query} "
                        f"body={str(case.body)[:300]}"
                    )
        elif isinstance(event, events.NonFatalError):
            failures[("error", event.label)].add(f"{event.value!r}"[:500])
        elif isinstance(event, events.FatalError):
            raise event.exception
        elif isinstance(event, events.EngineFinished):
            stop = event.stop_reason
    elapsed = time.monotonic() - started
    report = "\n".join(
        f"{' '.join(operation)}:\n  " + "\n  ".join(sorted(found)[:5])
        for operation, found in sorted(failures.items())
    )
    assert not failures, report
    assert stop is StopReason.COMPLETED, f"stopped: {stop} after {elapsed:.0f} s"
    # Every operation of the document was called, and answered a success at least once.
    called = {tuple(label.split(" ", 1)) for label in statuses}
    assert called >= _operations(document), _operations(document) - called
    unsuccessful = {
        " ".join(operation): sorted(statuses[" ".join(operation)])
        for operation in _operations(document) - set(NO_SUCCESS_NEEDED)
        if not any(200 <= s < 300 for s in statuses[" ".join(operation)])
    }
    assert not unsuccessful, (
        f"never answered 2xx to generated requests: {unsuccessful}. Give schemathesis real "
        "values for them (dictionaries and parameters in _config, auth for a new security "
        "scheme), or list them in NO_SUCCESS_NEEDED with the reason."
    )
