"""Issue 9, item 5: input out of range is refused with a 4xx that says what is wrong (or,
for dates at the ends of the calendar, accepted), never a 500: ids, offsets and pages of
2**63 and more, the first and last dates, a non-ASCII signature, lone surrogates, TRACE.
The bounds are stated in the OpenAPI document, so clients can know them."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from api_in_process import AgentApi
from app_client import UPDATE, InProcess, run_async
from portal_in_process import PortalBrowser

BIG = (2**63, 2**64, 10**30)
MAX_ID = 2**63 - 1


@pytest.fixture
def anna(demo_app: InProcess) -> AgentApi:
    return AgentApi(demo_app, "C20001", "anna")


@pytest.fixture
def item(anna: AgentApi) -> dict[str, Any]:
    return anna.create_item("Offer", "Correspondence", "ORG", {"offer.txt": b"version 1"})


def _refused(response: httpx.Response) -> None:
    assert response.status_code == 400, (response.request.url, response.text)
    body = response.json()
    assert body["code"] == "validation_error" and body["message"], body


def test_ids_offsets_and_versions_beyond_64_bits_are_refused(
    anna: AgentApi, item: dict[str, Any]
) -> None:
    item_id, attachment_id = item["id"], item["attachments"][0]["id"]
    file_id = anna.publish("report.txt", b"ready")
    for big in BIG:
        for method, path in (
            ("GET", f"items/{big}"),
            ("GET", f"items/{big}/edit"),
            ("GET", f"items/{big}/attachments/{attachment_id}/versions"),
            ("GET", f"items/{item_id}/attachments/{big}/versions"),
            ("GET", f"items/{big}/attachments/{attachment_id}/content"),
            ("GET", f"items/{item_id}/attachments/{big}/content"),
            ("GET", f"items/{item_id}/attachments/{attachment_id}/content?version={big}"),
            ("GET", f"items?offset={big}"),
            ("GET", f"files/{big}/content"),
            ("POST", f"files/{big}/delivered"),
        ):
            _refused(anna.request(method, path))
        _refused(
            anna.request(
                "POST",
                f"items/{big}/attachments/{attachment_id}/versions",
                json={"upload": "x"},
                headers={"If-Match": '"x"'},
            )
        )
    # The largest id is a valid question with an honest answer.
    assert anna.request("GET", f"items/{MAX_ID}").status_code == 404
    assert anna.request("GET", f"files/{MAX_ID}/content").status_code == 404
    assert anna.request("GET", f"items?offset={MAX_ID}").json() == {"items": [], "total": 1}
    # Nothing changed: the item and the file are still there and undelivered.
    assert anna.request("GET", f"items/{item_id}").status_code == 200
    assert [f["delivered"] for f in anna.request("GET", "files").json()["files"]] == [False]
    assert anna.request("GET", f"files/{file_id}/content").content == b"ready"


def test_dates_at_the_ends_of_the_calendar_are_answered(
    anna: AgentApi, item: dict[str, Any]
) -> None:
    for query in (
        "since=0001-01-01T00:00:00%2B14:00",
        "since=0001-01-01T00:00:00Z",
        "until=9999-12-31T23:59:59-14:00",
        "until=9999-12-31T23:59:59.999999Z",
        "since=0001-01-01T00:00:00%2B14:00&until=9999-12-31T23:59:59-14:00",
    ):
        found = anna.request("GET", f"items?{query}")
        assert found.status_code == 200, (query, found.text)
        assert [i["id"] for i in found.json()["items"]] == [item["id"]], query
    nothing = anna.request("GET", "items?until=0001-01-01T00:00:00%2B14:00")
    assert nothing.status_code == 200 and nothing.json()["total"] == 0


def _link(demo_app: InProcess, settings: dict[str, Any]) -> httpx.Response:
    body = {"workstation": {"id": "ws-edge-01", "name": "edge"}, "settings": [settings]}
    # Serialised by hand: lone surrogates survive only as JSON escapes (ensure_ascii).
    return demo_app.client().post(
        "/api/v1/links",
        headers={**UPDATE, "Content-Type": "application/json"},
        content=json.dumps(body).encode(),
    )


def test_links_with_a_non_ascii_signature_is_refused(demo_app: InProcess) -> None:
    settings = demo_app.settings_file("C20001")
    for signature in ("é" * 10, "hmac-sha256:" + "ü" * 43, "\u202e", "\ud800"):
        refused = _link(demo_app, {**settings, "signature": signature})
        assert refused.status_code == 400, (signature, refused.text)
        assert refused.json()["code"] in ("settings_tampered", "validation_error")
    # The genuine file still links: nothing was used up.
    assert _link(demo_app, settings).status_code == 200


def _with_surrogate_at(document: Any, path: tuple[Any, ...]) -> Any:
    copy = json.loads(json.dumps(document))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = "\ud800"
    return copy


def _leaves(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(document, dict):
        return [p for k, v in document.items() for p in _leaves(v, (*prefix, k))]
    return [prefix]


def test_a_lone_surrogate_anywhere_in_a_link_request_is_refused(demo_app: InProcess) -> None:
    settings = demo_app.settings_file("C20001")
    for where in _leaves(settings):
        refused = _link(demo_app, _with_surrogate_at(settings, where))
        assert refused.status_code == 400, (where, refused.text)
        assert refused.json()["code"] in ("validation_error", "settings_tampered"), where
    station = demo_app.client().post(
        "/api/v1/links",
        headers={**UPDATE, "Content-Type": "application/json"},
        content=json.dumps(
            {"workstation": {"id": "ws-edge-01", "name": "\ud800"}, "settings": [settings]}
        ).encode(),
    )
    assert station.status_code == 400 and station.json()["code"] == "validation_error"
    assert _link(demo_app, settings).status_code == 200


def test_status_with_a_lone_surrogate_is_refused(demo_app: InProcess) -> None:
    client = demo_app.client()
    for query in (
        {"environment": "\ud800", "token": "x"},
        {"environment": "C20001", "token": "kplt_\udfff"},
    ):
        answer = client.post(
            "/api/v1/status",
            headers={**UPDATE, "Content-Type": "application/json"},
            content=json.dumps({"environments": [query]}).encode(),
        )
        assert answer.status_code == 400, answer.text
        assert answer.json()["code"] == "validation_error"


def test_trace_is_answered_405_with_allow(demo_app: InProcess) -> None:
    client = demo_app.client()
    for path, allowed in (
        ("/api/v1/info", {"GET"}),
        ("/api/v1/status", {"POST"}),
        ("/api/v1/environments/C20001/link", {"DELETE"}),
        ("/portal/F10001/sign-in", {"GET", "POST"}),
    ):
        answer = client.request("TRACE", path)
        assert answer.status_code == 405, (path, answer.text)
        assert set(answer.headers["Allow"].replace(" ", "").split(",")) >= allowed, path


def test_the_document_states_the_bounds_of_every_number(demo_app: InProcess) -> None:
    document = demo_app.app.openapi()
    unbounded = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                schemas = parameter["schema"].get("anyOf", [parameter["schema"]])
                for schema in schemas:
                    if schema.get("type") == "integer" and not (
                        "minimum" in schema and schema.get("maximum", 2**63) <= MAX_ID
                    ):
                        unbounded.append(f"{method.upper()} {path} {parameter['name']}")
    assert unbounded == []


# --- the portal ---------------------------------------------------------------------------
def _portal_refusal(response: httpx.Response) -> None:
    assert response.status_code in (400, 404), (response.request.url, response.status_code)
    assert "text/html" in response.headers["content-type"]
    assert "out of range" in response.text or "Not found" in response.text, response.text


def test_portal_pages_refuse_out_of_range_numbers(demo_app: InProcess, anna: AgentApi,
                                                  item: dict[str, Any]) -> None:  # fmt: skip
    portal = PortalBrowser(demo_app).signed_in("anna")
    anna.publish("report.txt", b"ready")
    dossier = portal.path("environments", "C20001", "dossier")
    attachment_id = item["attachments"][0]["id"]
    for big in BIG:
        for path in (
            f"{dossier}/items/{big}",
            f"{dossier}/items/{item['id']}/attachments/{big}/content",
            f"{dossier}/items/{big}/attachments/{attachment_id}/content",
            f"{dossier}/items/{item['id']}/attachments/{attachment_id}/content?version={big}",
            f"{dossier}?page={big}",
            portal.path("environments", "C20001", "files", str(big), "content"),
            portal.path("admin", "audit") + f"?page={big}",
        ):
            _portal_refusal(portal.get(path))
    assert portal.get(f"{dossier}/items/{item['id']}").status_code == 200


def test_portal_dates_at_the_ends_of_the_calendar(
    demo_app: InProcess, item: dict[str, Any]
) -> None:
    portal = PortalBrowser(demo_app).signed_in("anna")
    dossier = portal.path("environments", "C20001", "dossier")
    audit = portal.path("admin", "audit")
    for query in ("until=9999-12-31", "since=0001-01-01", "since=0001-01-01&until=9999-12-31"):
        page = portal.get(f"{dossier}?{query}")
        assert page.status_code == 200, (query, page.text)
        assert "Offer" in page.text, query
        assert portal.get(f"{audit}?{query}").status_code == 200, query


def test_a_number_too_large_for_the_database_is_a_400_even_unforeseen(
    demo_app: InProcess,
) -> None:
    """The safety net behind the bounds: an OverflowError from the database layer (raw,
    or wrapped by SQLAlchemy) that still reaches the top is answered 400, not 500."""
    from sqlalchemy.exc import StatementError

    def raw() -> None:
        raise OverflowError("Python int too large to convert to SQLite INTEGER")

    def wrapped() -> None:
        raise StatementError("date value out of range", "SELECT 1", {}, OverflowError())

    def other() -> None:
        raise RuntimeError("something else")

    for name, route in (("raw", raw), ("wrapped", wrapped), ("other", other)):
        demo_app.app.add_api_route(f"/api/v1/test-net-{name}", route)
    transport = httpx.ASGITransport(app=demo_app.app, raise_app_exceptions=False)

    async def call(name: str) -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://koppel.test") as c:
            return await c.get(f"/api/v1/test-net-{name}")

    for name in ("raw", "wrapped"):
        answer = run_async(call(name))
        assert answer.status_code == 400, answer.text
        assert answer.json()["code"] == "validation_error"
        assert "out of range" in answer.json()["message"]
    assert run_async(call("other")).status_code == 500
