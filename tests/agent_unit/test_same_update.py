"""The same-update rule and duplicate handling, decided locally before any server call."""

from __future__ import annotations

from typing import Any

from koppel.agent.linking import Source, deduplicate, update_problems
from koppel.agent.local.state import LinkedEnv
from koppel.protocol.settings_file import parse_settings

AGENT = "2026.2"


def source(code: str, update: str = AGENT, file: str = "a.koppel") -> Source:
    document: dict[str, Any] = {
        "format": "koppel-settings/1",
        "environment": {
            "code": code,
            "name": code,
            "kind": "client",
            "update": update,
            "api_url": "http://127.0.0.1:9",
            "main_site_url": "https://portal.example.com",
        },
        "user": {"login": "anna", "display_name": "Anna"},
        "enrollment": {"code": "kple_x", "expires": "2026-01-01T00:00:00+00:00"},
        "issued": "2026-01-01T00:00:00+00:00",
    }
    return Source(document, parse_settings(document), file)


def linked(code: str, update: str) -> LinkedEnv:
    return LinkedEnv(code, code, "client", update, "anna", "Anna", "http://h", "", "file", "")


def test_same_update_everywhere_is_fine() -> None:
    assert update_problems([source("C1"), source("C2")], AGENT, {"F1": linked("F1", AGENT)}) == []


def test_newer_environment_says_install_that_agent() -> None:
    [problem] = update_problems([source("C1", "2026.3", "c1.koppel")], AGENT, {})
    assert "C1 (c1.koppel) is on update 2026.3" in problem
    assert "this agent is on update 2026.2" in problem
    assert "install the agent of update 2026.3" in problem


def test_older_environment_says_ask_to_convert() -> None:
    [problem] = update_problems([source("C1", "2026.1")], AGENT, {})
    assert "ask the administrator to convert C1 to update 2026.2" in problem


def test_only_the_offending_environments_are_named() -> None:
    problems = update_problems([source("C1"), source("C2", "2026.1")], AGENT, {})
    assert len(problems) == 1 and problems[0].startswith("C2 ")


def test_already_linked_environment_on_another_update_blocks() -> None:
    [problem] = update_problems([source("C2")], AGENT, {"C1": linked("C1", "2026.1")})
    assert "C1, already linked, is on update 2026.1" in problem
    assert "koppel unlink C1" in problem


def test_relinking_the_stale_environment_itself_is_allowed() -> None:
    assert update_problems([source("C1")], AGENT, {"C1": linked("C1", "2026.1")}) == []


def test_duplicates_last_wins_and_is_said() -> None:
    kept, notes = deduplicate(
        [source("C1", file="a.koppel"), source("C2"), source("C1", file="b.koppel")]
    )
    assert [(s.code, s.file) for s in kept] == [("C2", "a.koppel"), ("C1", "b.koppel")]
    assert len(notes) == 1 and "from b.koppel, is used" in notes[0]


def test_a_link_on_a_newer_update_never_asks_to_convert_back() -> None:
    # The old agent after a conversion: what is linked moved on; the agent and the file
    # are the old ones. An environment is never converted back.
    [problem] = update_problems([source("C2")], AGENT, {"C1": linked("C1", "2026.3")})
    assert "install the agent of update 2026.3" in problem
    assert "save the settings" in problem
    assert "convert" not in problem
