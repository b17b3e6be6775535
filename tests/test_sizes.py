"""Sizes read the same everywhere, the way Windows Explorer shows them (1 KB = 1,024 bytes,
1 MB = 1,048,576 bytes, three digits cut off): the one formatting function of
``koppel.protocol.sizes`` at its boundaries, and the same file and the same limit as the
real ``koppel``, ``koppel-admin``, the server's refusals, the portal and the docs show it."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from harness import Server, Workstation
from portal_client import Portal, text_of
from uploads_helpers import link, tus

Ws = Callable[..., Workstation]
ROOT = Path(__file__).resolve().parents[1]
LIMIT = 75 * 1024 * 1024  # the default limit: 75 MB as Windows counts them
FILE_REFUSED = 10


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 bytes"),
        (1, "1 byte"),
        (1023, "1,023 bytes"),
        (1024, "1.00 KB"),
        (1536, "1.50 KB"),
        (5000, "4.88 KB"),  # 4.8828: cut off, never rounded up to 4.89
        (10 * 1024 - 1, "9.99 KB"),
        (10 * 1024, "10.0 KB"),
        (100 * 1024 - 1, "99.9 KB"),
        (100 * 1024, "100 KB"),
        (1000 * 1024 - 1, "999 KB"),
        (1000 * 1024, "0.97 MB"),  # from 1,000 KB on: the next unit
        (1024 * 1024 - 1, "0.99 MB"),
        (1024 * 1024, "1.00 MB"),
        (49_999_872, "47.6 MB"),  # Explorer: "47.6 MB (49,999,872 bytes)"
        (50_000_000, "47.6 MB"),
        (LIMIT, "75.0 MB"),
        (LIMIT + 1, "75.0 MB"),
        (76_000_000, "72.4 MB"),
        (1000 * 1024**2 - 1, "999 MB"),
        (1024**3, "1.00 GB"),
        (10 * 1024**3, "10.0 GB"),
        (1024**4, "1.00 TB"),
        (5000 * 1024**4, "5,000 TB"),
    ],
)
def test_sizes_are_shown_as_windows_explorer_shows_them(size: int, shown: str) -> None:
    from koppel.protocol.sizes import format_size

    assert format_size(size) == shown


def test_exact_sizes_add_the_bytes_and_byte_counts_agree_in_number() -> None:
    from koppel.protocol.sizes import byte_count, format_size_exact

    assert format_size_exact(LIMIT) == "75.0 MB (78,643,200 bytes)"
    assert format_size_exact(LIMIT + 1) == "75.0 MB (78,643,201 bytes)"
    assert format_size_exact(1023) == "1,023 bytes"  # no "(1,023 bytes)" twice
    assert byte_count(1) == "1 byte" and byte_count(2) == "2 bytes"


def _sparse(path: Path, size: int) -> Path:
    with path.open("wb") as out:  # no bytes written: a hole of ``size`` bytes
        out.truncate(size)
    return path


def _create_upload(server: Server, token: str, length: int) -> httpx.Response:
    name = base64.b64encode(b"scan.pdf").decode()
    return httpx.post(
        f"{server.url}/api/v1/environments/F10001/uploads",
        headers=tus(token, **{"Upload-Length": str(length), "Upload-Metadata": f"filename {name}"}),
    )


def test_the_limit_is_75_mb_as_windows_counts_them_and_says_so(
    demo_server: Server, workstation: Ws, tmp_path: Path
) -> None:
    ws = workstation("laptop")
    token = link(ws, demo_server)
    limit = "at most 75.0 MB (78,643,200 bytes) per file"

    # The agent refuses a file one byte beyond, before sending any of it ...
    big = _sparse(tmp_path / "scan.pdf", LIMIT + 1)
    refused = ws.koppel("submit", str(big), "--to", "D0001", "--type", "Invoice")
    assert refused.returncode == FILE_REFUSED, refused.output
    assert "scan.pdf has 75.0 MB (78,643,201 bytes)" in refused.stderr
    assert limit in refused.stderr
    # ... and so does the server, in the same words.
    answer = _create_upload(demo_server, token, LIMIT + 1)
    assert answer.status_code == 413 and answer.json()["code"] == "too_large"
    assert "The file (75.0 MB (78,643,201 bytes))" in answer.json()["message"]
    assert limit in answer.json()["message"]

    # 76,000,000 bytes (72.4 MB) are within the limit: accepted, the whole way.
    accepted = _sparse(tmp_path / "archive.pdf", 76_000_000)
    sent = ws.koppel("submit", str(accepted), "--to", "D0001", "--type", "Invoice", "--json")
    assert sent.returncode == 0, sent.output
    assert sent.json()["state"] == "sent"


def test_a_lower_limit_reads_the_same_on_the_agent_and_the_portal(
    tmp_path: Path, workstation: Ws
) -> None:
    from harness import make_server

    server = make_server(tmp_path)
    server.env["KOPPEL_MAX_UPLOAD_MB"] = "0.5"
    server.start("--demo")
    try:
        ws = workstation("laptop")
        link(ws, server)
        big = _sparse(tmp_path / "scan.pdf", 600_000)
        refused = ws.koppel("submit", str(big), "--to", "D0001", "--type", "Invoice")
        assert refused.returncode == FILE_REFUSED, refused.output
        assert "at most 512 KB (524,288 bytes) per file" in refused.stderr
        with Portal(server).signed_in("anna") as anna:
            page = text_of(anna.get(anna.path("environments/F10001/dossier")).text)
            assert "at most 512 KB" in page
    finally:
        server.stop()


def _size_cell(table: str, name: str) -> str:
    """The size column of ``name``'s row in a CLI table (the cell ending in a unit)."""
    row = next(line for line in table.splitlines() if name in line)
    found = re.search(r"\d[\d,.]* (?:bytes?|KB|MB|GB|TB)\b", row.split(name, 1)[1])
    assert found, row
    return found.group(0)


def test_the_cli_the_admin_cli_and_the_portal_show_a_file_the_same(
    demo_server: Server, workstation: Ws, tmp_path: Path
) -> None:
    ws = workstation("laptop")
    link(ws, demo_server)
    sizes = {"Notes.txt": 5000, "Ledger.xlsx": 1024 * 1024 - 1, "Scan.pdf": 49_999_872}
    expected = {"Notes.txt": "4.88 KB", "Ledger.xlsx": "0.99 MB", "Scan.pdf": "47.6 MB"}
    for name, size in sizes.items():
        source = _sparse(tmp_path / name, size)
        published = demo_server.ok("files", "publish", "F10001", "anna", str(source))
        assert f"published {name} ({expected[name]})" in published.stdout

    agent = ws.ok("files", "--env", "F10001").stdout
    admin = demo_server.ok("files", "list", "F10001").stdout
    with Portal(demo_server).signed_in("anna") as anna:
        page = anna.get(anna.path("environments/F10001/files")).text
    cells = {re.sub(r"\s+", " ", cell) for cell in re.findall(r'data-label="Size">([^<]*)<', page)}
    for name, shown in expected.items():
        assert _size_cell(agent, name) == shown, agent
        assert _size_cell(admin, name) == shown, admin
        assert shown in cells, cells


def _explorer_form(shown: str) -> bool:
    """Whether a size in text has the form format_size gives: three digits (2 decimals
    below 10, 1 below 100, none above), so "75.0 MB" and "512 KB", never "75 MB"."""
    number = shown.split()[0].replace(",", "")
    whole, _, decimals = number.partition(".")
    wanted = 2 if int(whole) < 10 else 1 if int(whole) < 100 else 0
    return len(decimals) == wanted


def test_the_docs_state_sizes_as_the_programs_show_them() -> None:
    from koppel.protocol.sizes import format_size, format_size_exact
    from koppel.protocol.uploads import DEFAULT_MAX_UPLOAD_BYTES

    api = (ROOT / "docs" / "agent-api.md").read_text(encoding="utf-8")
    assert format_size_exact(DEFAULT_MAX_UPLOAD_BYTES) in api  # 75.0 MB (78,643,200 bytes)
    assert format_size(64 * 1024 * 1024) in api  # the largest settings file
    # Every size in the docs in that form ("75 MB" would read as 75,000,000 bytes), but
    # for the units' definitions ("1 MB = 1,048,576 bytes").
    size = re.compile(r"(?<![\w.,])\d[\d,]*(?:\.\d+)? (?:KB|MB|GB|TB)\b(?! =)")
    for doc in (ROOT / "docs").glob("*.md"):
        for shown in size.findall(doc.read_text(encoding="utf-8")):
            assert _explorer_form(shown), f"{doc.name}: {shown!r}"


def test_sizes_read_as_explorer_shows_them_in_dutch_and_french() -> None:
    from koppel.i18n import use_language
    from koppel.protocol.sizes import byte_count, format_size, format_size_exact

    with use_language("nl"):
        assert format_size_exact(LIMIT) == "75,0 MB (78.643.200 bytes)"
        assert format_size(1536) == "1,50 KB"
        assert byte_count(1) == "1 byte"
    with use_language("fr"):
        assert format_size_exact(LIMIT) == "75,0 Mo (78\u202f643\u202f200 octets)"
        assert format_size(1536) == "1,50 Ko"
        assert (byte_count(0), byte_count(1), byte_count(2)) == ("0 octet", "1 octet", "2 octets")
    with use_language("en"):
        assert format_size_exact(LIMIT) == "75.0 MB (78,643,200 bytes)"
