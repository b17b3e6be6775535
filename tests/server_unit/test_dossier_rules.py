"""The dossier's pure rules: CSV rows, byte ranges, who may use and see, conflict names."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from koppel.protocol.errors import ErrorCode
from koppel.server.adapters.http.downloads import parse_range
from koppel.server.domain.dossier.catalog import parse_destinations
from koppel.server.domain.dossier.items import may_use
from koppel.server.domain.dossier.model import ItemType, Version
from koppel.server.domain.errors import DomainError


def test_destination_rows() -> None:
    text = 'code,name,kind\n\nD1,"Hotel, De Kroon",Debtor\n E1 , Sanne ,employee\n'
    assert parse_destinations(text) == [
        ("D1", "Hotel, De Kroon", "debtor"),
        ("E1", "Sanne", "employee"),
    ]
    for bad in ("D1,Name\n", "D1,Name,alien\n", ",Name,person\n", f"{'x' * 41},N,person\n"):
        with pytest.raises(DomainError) as refused:
            parse_destinations(bad)
        assert refused.value.code is ErrorCode.VALIDATION_ERROR


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-0", (0, 1)),
        ("bytes=5-", (5, 100)),
        ("bytes=90-500", (90, 100)),
        ("bytes=-10", (90, 100)),
        ("bytes=-500", (0, 100)),
        ("bytes=0-1,5-6", None),  # several ranges: answered whole
        ("items=0-1", None),
        ("bytes=5-2", None),  # malformed: ignored
        ("bytes=abc", None),
    ],
)
def test_ranges(header: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=200-300"])
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(DomainError) as refused:
        parse_range(header, 100)
    assert refused.value.code is ErrorCode.RANGE_NOT_SATISFIABLE


def test_who_may_use_a_type() -> None:
    open_type = ItemType(1, "Invoice")
    limited = ItemType(1, "Payslip", confidential=True, group_ids=frozenset({7}))
    assert may_use(open_type, set()) and may_use(limited, {7, 8})
    assert not may_use(limited, {8})


def test_etag_names_content_and_number() -> None:
    version = Version(
        1,
        3,
        "a.txt",
        "text/plain",
        1,
        "ab" * 32,
        "k",
        1,
        "anna",
        None,
        None,
        datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert version.etag == '"abababababababab-3"'
