"""What schemathesis found where the OpenAPI document and the routes disagreed (issue 9,
item 5), pinned down one by one: required headers are stated as required and still
answered with a sentence that says what to do, a retried item is a documented 200, a
pending file is a conflict (409) rather than a bad request, downloads and tus answers are
described as they are sent."""

from __future__ import annotations

from typing import Any

import pytest

from api_in_process import TUS, AgentApi
from app_client import UPDATE, InProcess, bearer


@pytest.fixture
def document(demo_app: InProcess) -> dict[str, Any]:
    found: dict[str, Any] = demo_app.app.openapi()
    return found


def _parameter(operation: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in operation["parameters"] if p["name"].lower() == name.lower())


def test_required_headers_are_required_and_explained(
    demo_app: InProcess, document: dict[str, Any]
) -> None:
    paths = document["paths"]
    status = paths["/api/v1/status"]["post"]
    assert _parameter(status, "Koppel-Update")["required"] is True
    versions = paths[
        "/api/v1/environments/{env}/items/{item_id}/attachments/{attachment_id}/versions"
    ]
    assert _parameter(versions["post"], "If-Match")["required"] is True
    creation = paths["/api/v1/environments/{env}/uploads"]["post"]
    for name in ("Upload-Length", "Upload-Metadata", "Tus-Resumable"):
        assert _parameter(creation, name)["required"] is True, name
    # An optional header is a string, never null.
    patch = paths["/api/v1/environments/{env}/uploads/{upload_id}"]["patch"]
    assert _parameter(patch, "Upload-Checksum")["schema"]["type"] == "string"

    client = demo_app.client()
    missing = client.post("/api/v1/status", json={"environments": []})
    assert missing.status_code == 400
    assert missing.json()["message"].startswith("Send the agent's update in the Koppel-Update")
    anna = AgentApi(demo_app, "C20001", "anna")
    anna.open_editing()
    item = anna.create_item("Letter", "Correspondence", "ORG", {"letter.txt": b"v1"})
    attachment = item["attachments"][0]["id"]
    no_tag = anna.request(
        "POST",
        f"items/{item['id']}/attachments/{attachment}/versions",
        json={"upload": anna.upload("letter.txt", b"v2")},
    )
    assert no_tag.status_code == 400 and "If-Match" in no_tag.json()["message"]


def test_a_retried_item_is_a_documented_200(demo_app: InProcess, document: dict[str, Any]) -> None:
    responses = document["paths"]["/api/v1/environments/{env}/items"]["post"]["responses"]
    assert {"200", "201"} <= set(responses)
    anna = AgentApi(demo_app, "C20001", "anna")
    body = {
        "submission_id": "retry-0001",
        "subject": "Letter",
        "type": "Correspondence",
        "destination": "ORG",
        "uploads": [anna.upload("letter.txt", b"v1")],
    }
    first = anna.request("POST", "items", json=body)
    again = anna.request("POST", "items", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]


def test_a_pending_file_is_not_delivered(demo_app: InProcess) -> None:
    anna = AgentApi(demo_app, "F10001", "anna")
    accepted = anna.request("POST", "analyses", json={"kind": "dossier-overview"})
    file_id = accepted.json()["file_id"]
    refused = anna.request("POST", f"files/{file_id}/delivered")
    assert refused.status_code == 409 and refused.json()["code"] == "file_not_ready"
    assert "keep waiting" in refused.json()["message"]
    demo_app.run_jobs()
    assert anna.request("POST", f"files/{file_id}/delivered").status_code == 204


def test_downloads_and_tus_answers_are_described_as_sent(document: dict[str, Any]) -> None:
    paths = document["paths"]
    for path in (
        "/api/v1/environments/{env}/files/{file_id}/content",
        "/api/v1/environments/{env}/items/{item_id}/attachments/{attachment_id}/content",
    ):
        # The file's own media type, whatever it is.
        assert set(paths[path]["get"]["responses"]["200"]["content"]) == {"*/*"}, path
    uploads = "/api/v1/environments/{env}/uploads"
    created = paths[uploads]["post"]["responses"]["201"]
    assert "content" not in created and "Location" in created["headers"]
    state = paths[f"{uploads}/{{upload_id}}"]["head"]["responses"]["200"]
    assert "content" not in state and "Upload-Offset" in state["headers"]
    body = paths[f"{uploads}/{{upload_id}}"]["patch"]["requestBody"]
    assert body["required"] and set(body["content"]) == {"application/offset+octet-stream"}


def test_tus_asks_for_credentials_before_the_protocol_version(demo_app: InProcess) -> None:
    client = demo_app.client()
    url = "/api/v1/environments/C20001/uploads"
    headers = {"Upload-Length": "5", "Upload-Metadata": "filename eC50eHQ="}
    anonymous = client.post(url, headers={**UPDATE, **headers})
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "token_missing"
    token = demo_app.token("C20001")
    old = client.post(url, headers={**bearer(token), **headers, "Tus-Resumable": "0.2.2"})
    assert old.status_code == 412 and old.headers["Tus-Version"] == "1.0.0"
    assert client.post(url, headers={**bearer(token), **headers, **TUS}).status_code == 201
    # TRACE is no tus request: the router answers it.
    assert client.request("TRACE", url, headers=bearer(token)).status_code == 405
