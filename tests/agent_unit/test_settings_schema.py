"""The shared settings-file schema: the addresses it accepts (one rule for the server that
records them and the agent that reads them) and the one-line refusals of what it does not."""

from __future__ import annotations

import json
from typing import Any

import pytest

from koppel.protocol.errors import ErrorCode
from koppel.protocol.settings_file import (
    EmptyBundleError,
    SettingsFileError,
    read_documents,
    read_settings,
)
from koppel.protocol.urls import url_problem
from koppel.server.domain import names
from koppel.server.domain.errors import DomainError

GOOD = [
    "http://127.0.0.1:8080",
    "https://koppel.example.com",
    "https://koppel.example.com/api/v1",
    "https://koppel.example.com:8443/koppel",
    "http://[::1]:8080",
    "http://localhost",
    "https://xn--bcher-kva.example",
    "https://internal_host.example.com",
]
BAD = [
    "ftp://koppel.example.com",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "koppel.example.com",
    "HTTP://koppel.example.com",
    "http://",
    "http:///api/v1",
    "http://user:secret@koppel.example.com",
    "http://@koppel.example.com",
    "http://koppel.example.com:99999",
    "http://koppel.example.com:0",
    "http://koppel.example.com:port",
    "http://koppel .example.com",
    "http://koppel.example.com\r",
    "http://koppel.example.com\n/x",
    "http://[::1",
    "http://[zz::1]/",
    "http://\u202ekoppel.example.com",
    "http://exa\u200bmple.com",
    "https://bücher.example",
    "http:\\\\koppel.example.com",
    "http://-koppel.example.com",
    "http://koppel..example.com",
    "http://koppel.example.com?x=1",
    "http://koppel.example.com#top",
    "",
    "http://" + "a" * 600 + ".example.com",
    "http://ko\ud800ppel.example.com",
]


@pytest.mark.parametrize("url", GOOD)
def test_good_addresses(url: str) -> None:
    assert url_problem(url) is None


@pytest.mark.parametrize("url", BAD)
def test_bad_addresses(url: str) -> None:
    problem = url_problem(url)
    assert problem is not None and problem.isprintable()


def test_a_portal_address_may_have_a_query() -> None:
    assert url_problem("https://portal.example.com/login?tenant=F10001", allow_query=True) is None
    assert url_problem("https://portal.example.com/login?tenant=F10001") is not None


# The server trims what an administrator types; the lone surrogate never gets that far.
@pytest.mark.parametrize("url", [u for u in BAD[:-1] if u == u.strip()])
def test_the_server_records_no_address_the_agent_refuses(url: str) -> None:
    with pytest.raises(DomainError):
        names.url(url, "API URL")


def test_the_server_keeps_normalising() -> None:
    assert names.url("  https://koppel.example.com/ ", "API URL") == "https://koppel.example.com"


def _document(**environment: Any) -> dict[str, Any]:
    return {
        "format": "koppel-settings/1",
        "environment": {
            "code": "C20001",
            "name": "Bakkerij Jansen",
            "kind": "client",
            "update": "2026.2",
            "api_url": "https://koppel.example.com",
            "main_site_url": "https://koppel.example.com/portal/F10001",
            **environment,
        },
        "user": {"login": "anna", "display_name": "Anna de Vries"},
        "enrollment": {"code": "kple_abc_def", "expires": "2026-01-31T12:00:00Z"},
        "issued": "2026-01-31T11:00:00Z",
        "signature": "hmac-sha256:abc",
    }


def test_a_good_document_is_read() -> None:
    assert len(read_documents(json.dumps(_document()).encode())) == 1


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("api_url", "http://koppel.example.com\r", "U+000D"),
        ("api_url", "http://anna:pw@koppel.example.com", "user name or password"),
        ("main_site_url", "ftp://x", "http:// or https://"),
        ("code", "../../etc", "environment code"),
        ("update", "2026.2\n", "update"),
        ("update", "２０２６.２", "update"),
        ("name", "a\nb", "control characters"),
        ("name", "x" * 201, "at most 200"),
    ],
)
def test_a_bad_field_is_named_in_one_line(field: str, value: str, words: str) -> None:
    raw = json.dumps(_document(**{field: value})).encode()
    with pytest.raises(SettingsFileError) as refused:
        read_documents(raw, "C20001.koppel")
    message = str(refused.value)
    assert f"environment.{field}" in message and words in message, message
    assert message.isprintable() and len(message) < 400


@pytest.mark.parametrize(
    "value", [1700000000, "1700000000", "2026-01-31", True, "9999-12-31T23:59:59-14:00"]
)
def test_times_are_iso_8601_with_an_offset(value: object) -> None:
    document = _document()
    document["issued"] = value
    with pytest.raises(SettingsFileError, match="issued"):
        read_documents(json.dumps(document).encode())


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 40 + b"1" + b"}" * 40,
        b'{"format": 1' + b"1" * 5000 + b"}",
        b'{"format": NaN}',
        b"\xff\xfe\xfa",
        json.dumps({**_document(), "user": {"login": "anna", "display_name": "\ud800"}}).encode(),
        json.dumps({"format": "x" * 100_000}).encode(),
        b"",
    ],
)
def test_unreadable_files_are_one_line(raw: bytes) -> None:
    with pytest.raises(SettingsFileError) as refused:
        read_documents(raw, "f.koppel")
    message = str(refused.value)
    assert message.isprintable() and len(message) < 400, message[:500]


def _bundle(settings: list[dict[str, Any]], skipped: list[dict[str, Any]]) -> bytes:
    return json.dumps(
        {
            "format": "koppel-bundle/1",
            "firm": "F10001",
            "user": {"login": "anna", "display_name": "Anna de Vries"},
            "issued": "2026-01-31T11:00:00Z",
            "settings": settings,
            "skipped": skipped,
        }
    ).encode()


def test_a_bundle_says_which_clients_it_left_out() -> None:
    skipped = [
        {"environment": "C20002", "name": "Garage Visser", "code": "connector_blocked",
         "message": "The connector of C20002 is blocked: ask your administrator."},
        # A server that wrote no name yet, and a reason code newer than this agent.
        {"environment": "C20003", "code": "some_newer_reason", "message": "Why."},
    ]  # fmt: skip
    contents = read_settings(_bundle([_document()], skipped), "F10001-clients.koppel")
    assert len(contents.documents) == 1
    first, second = contents.skipped
    assert (first.environment, first.name, first.code) == (
        "C20002", "Garage Visser", ErrorCode.CONNECTOR_BLOCKED,
    )  # fmt: skip
    assert (second.environment, second.name, second.code) == ("C20003", None, "some_newer_reason")


@pytest.mark.parametrize(
    "entry",
    [
        {"environment": "../x", "code": "not_authorized", "message": "Why."},
        {"environment": "C20002", "code": "Not A Code", "message": "Why."},
        {"environment": "C20002", "code": "not_authorized", "message": "a\nb"},
        {"environment": "C20002", "code": "not_authorized", "message": ""},
        {"environment": "C20002", "name": "x" * 201, "code": "not_authorized", "message": "."},
        "C20002",
    ],
)
def test_a_damaged_list_of_left_out_clients_is_refused_in_one_line(entry: object) -> None:
    with pytest.raises(SettingsFileError) as refused:
        read_settings(_bundle([_document()], [entry]), "b.koppel")  # type: ignore[list-item]
    message = str(refused.value)
    assert "skipped" in message and message.isprintable() and len(message) < 400, message


def test_an_empty_bundle_carries_the_reasons() -> None:
    skipped = [{"environment": "C20002", "code": "not_a_member", "message": "Ask."}]
    with pytest.raises(EmptyBundleError) as refused:
        read_settings(_bundle([], skipped), "b.koppel")
    assert [s.environment for s in refused.value.skipped] == ["C20002"]
