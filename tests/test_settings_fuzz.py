"""Malformed settings files and bundles fed to `koppel link` (issue 9, item 7).

Every one must end with exit code 8 (invalid settings), exactly one line on stderr, no
traceback, and the agent's state files byte-identical. Hypothesis makes them from a real
saved file and bundle (structural mutations: removed fields, wrong types, lone
surrogates, control characters, bad addresses, deep nesting, huge values, truncation)
and from junk. Most run in process (typer's CliRunner over the real CLI app; whatever
still reaches the real server is refused there as altered); a handful of the nastiest
go through the real `koppel` executable.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from harness import Server, Workstation, make_server, make_workstation
from koppel.agent.cli import app

INVALID_SETTINGS = 8
BAD_URLS = [
    "ftp://koppel.example.com",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "koppel.example.com",
    "//koppel.example.com",
    "http:koppel.example.com",
    "http://",
    "https://",
    "http:///api/v1",
    "http://user:secret@koppel.example.com",
    "http://@koppel.example.com",
    "http://koppel.example.com:99999",
    "http://koppel.example.com:-1",
    "http://koppel.example.com:0",
    "http://koppel.example.com:port",
    "http://koppel .example.com",
    "http://koppel.example.com\r",
    "http://koppel.example.com\r\nX-Injected: 1",
    "http://koppel.example.com\n/x",
    "http://koppel.example.com\t",
    "http://koppel.example.com/ path",
    "http://[::1",
    "http://[zz::1]/",
    "http://ko\x00ppel.example.com",
    "http://\u202ekoppel.example.com",
    "http://exa\u200bmple.com",
    "http:\\\\koppel.example.com",
    "http://koppel.example.com\\x",
    'http://koppel.example.com/"x"',
    "http://koppel.example.com/<script>",
    "",
    "   ",
    "http://" + "a" * 600 + ".example.com",
    "http://ko\ud800ppel.example.com",
]
CONTROL = st.sampled_from(["\r", "\n", "\x00", "\x1b", "\x7f", "\x85", "\t", "\ud800", "\udfff"])


@dataclass
class Practice:
    """A real server, a workstation with F10001 linked, and real saved files."""

    server: Server
    ws: Workstation
    single: dict[str, Any]
    bundle: dict[str, Any]
    folder: Path

    @property
    def data_dir(self) -> Path:
        return self.ws.home / ".local/share/koppel"

    def state(self) -> dict[str, bytes]:
        """Every file of the agent's data folder, byte for byte."""
        return {
            str(p.relative_to(self.data_dir)): p.read_bytes()
            for p in sorted(self.data_dir.rglob("*"))
            if p.is_file()
        }


@pytest.fixture(scope="module")
def practice(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Practice]:
    base = tmp_path_factory.mktemp("fuzz")
    srv = make_server(base).start("--demo")
    try:
        ws = make_workstation(base, "laptop")
        ws.ok("link", str(ws.save_settings(srv, "F10001", "anna")))
        single = json.loads(ws.save_settings(srv, "C20001", "anna").read_bytes())
        bundle = json.loads(ws.save_settings(srv, "F10001", "anna", bundle=True).read_bytes())
        assert len(bundle["settings"]) >= 2
        yield Practice(srv, ws, single, bundle, base / "cases")
    finally:
        srv.stop()


# -- the generators ----------------------------------------------------------------------------


def _paths(value: Any, here: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a value inside a document (not the root), but never into a bundle's
    informational ``skipped`` list nor to a whole element of its ``settings``."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if here == () and key == "skipped":
                continue
            yield (*here, key)
            yield from _paths(inner, (*here, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            if here != ("settings",):
                yield (*here, index)
            yield from _paths(inner, (*here, index))


PLACEHOLDER = "\x01raw\x01"


def _nest(depth: int, kind: str) -> str:
    if kind == "list":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


@st.composite
def wrong_value(draw: st.DrawFn, current: Any) -> tuple[Any, str | None]:
    """A value of a wrong type or form for where it goes; or raw JSON text to put there."""
    choice = draw(st.sampled_from(["type", "text", "deep", "huge_number", "huge_text"]))
    if choice == "text" and isinstance(current, str) and current:
        at = draw(st.integers(0, len(current)))
        return current[:at] + draw(CONTROL) + current[at:], None
    if choice == "deep":
        depth = draw(st.integers(40, 50_000))
        return PLACEHOLDER, _nest(depth, draw(st.sampled_from(["list", "dict"])))
    if choice == "huge_number":
        return PLACEHOLDER, "9" * draw(st.integers(4_400, 20_000))
    if choice == "huge_text":
        return "x" * draw(st.integers(10_000, 2_000_000)), None
    others = st.one_of(
        st.none(),
        st.booleans(),
        st.lists(st.integers(), max_size=3),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    )
    if not isinstance(current, (dict, list)):
        others = others | st.integers(min_value=-(2**70), max_value=2**70)
        if not isinstance(current, str):
            others = others | st.text(max_size=5).map(lambda t: "\r" + t)
    return draw(others), None


def _encode(document: Any, raw: str | None, ascii_only: bool) -> bytes:
    text = json.dumps(document, ensure_ascii=ascii_only)
    if raw is not None:
        text = text.replace(json.dumps(PLACEHOLDER, ensure_ascii=ascii_only), raw, 1)
    # Lone surrogates as raw bytes are not UTF-8: a file no editor would save.
    return text.encode("utf-8", errors="surrogatepass")


@st.composite
def mutated(draw: st.DrawFn, original: dict[str, Any]) -> bytes:
    """A real saved file with one thing broken."""
    document = copy.deepcopy(original)
    path = draw(st.sampled_from(list(_paths(document))))
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    key, current = path[-1], parent[path[-1]]
    raw = None
    if key in ("api_url", "main_site_url") and draw(st.booleans()):
        parent[key] = draw(st.sampled_from(BAD_URLS))
    elif isinstance(parent, dict) and draw(st.integers(0, 4)) == 0:
        del parent[key]
    else:
        parent[key], raw = draw(wrong_value(current))
    return _encode(document, raw, draw(st.booleans()))


@st.composite
def junk(draw: st.DrawFn, original: dict[str, Any]) -> bytes:
    """Not a settings file at all: bytes, other JSON, a cut-off file, deep nesting."""
    real = json.dumps(original).encode()
    choice = draw(st.sampled_from(["bytes", "json", "truncated", "deep", "number"]))
    if choice == "bytes":
        return draw(st.binary(max_size=3000))
    if choice == "json":
        value = draw(st.one_of(st.none(), st.integers(), st.text(), st.lists(st.integers())))
        return json.dumps(value).encode()
    if choice == "truncated":
        return real[: draw(st.integers(0, len(real) - 1))]
    if choice == "deep":
        depth = draw(st.integers(33, 200_000))
        return _nest(depth, draw(st.sampled_from(["list", "dict"]))).encode()
    return b'{"format": 1' + b"0" * draw(st.integers(4_300, 50_000)) + b"}"


# -- the checks --------------------------------------------------------------------------------


def _case_file(practice: Practice, raw: bytes) -> Path:
    practice.folder.mkdir(exist_ok=True)
    path = practice.folder / "case.koppel"
    path.write_bytes(raw)
    return path


def check_in_process(practice: Practice, raw: bytes) -> None:
    before = practice.state()
    path = _case_file(practice, raw)
    env = {"KOPPEL_AGENT_HOME": str(practice.data_dir), "KOPPEL_TOKEN_STORE": "file"}
    result = CliRunner().invoke(app, ["link", str(path)], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__}: {result.exception}"[:500],
        raw[:300],
    )
    assert result.exit_code == INVALID_SETTINGS, (result.exit_code, result.stderr[:500], raw[:300])
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), (result.stderr[:2000], raw[:300])
    assert len(lines[0]) < 2000, lines[0][:300]
    assert practice.state() == before


SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@SETTINGS
@given(data=st.data())
def test_mutated_settings_files_exit_8(practice: Practice, data: st.DataObject) -> None:
    check_in_process(practice, data.draw(mutated(practice.single)))


@SETTINGS
@given(data=st.data())
def test_mutated_bundles_exit_8(practice: Practice, data: st.DataObject) -> None:
    check_in_process(practice, data.draw(mutated(practice.bundle)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_junk_exits_8(practice: Practice, data: st.DataObject) -> None:
    check_in_process(practice, data.draw(junk(practice.single)))


def test_the_nastiest_through_the_real_cli(practice: Practice) -> None:
    single = practice.single
    surrogate = copy.deepcopy(single)
    surrogate["user"]["display_name"] = "Anna \ud800"
    carriage = copy.deepcopy(single)
    carriage["environment"]["api_url"] += "\r"
    userinfo = copy.deepcopy(single)
    userinfo["environment"]["api_url"] = userinfo["environment"]["api_url"].replace(
        "http://", "http://anna:koppel-demo@"
    )
    cases = [
        _nest(100_000, "list").encode(),
        json.dumps(surrogate).encode(),
        json.dumps(carriage).encode(),
        json.dumps(userinfo).encode(),
        b'{"format": 1' + b"1" * 5000 + b"}",
        b"\xff\xfe\x00garbage",
    ]
    before = practice.state()
    for number, raw in enumerate(cases):
        path = practice.folder / f"nasty-{number}.koppel"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(raw)
        result = practice.ws.koppel("link", str(path))
        assert result.returncode == INVALID_SETTINGS, (number, result.output[-2000:])
        assert len(result.stderr.splitlines()) == 1, (number, result.stderr[-2000:])
        assert "Traceback" not in result.output
        assert practice.state() == before
    # The agent still works: its link to F10001 is intact.
    assert [e["code"] for e in practice.ws.ok("envs", "--json").json()] == ["F10001"]
