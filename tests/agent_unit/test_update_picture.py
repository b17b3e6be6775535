"""What `koppel doctor` advises about updates, from the updates of every linked environment."""

from __future__ import annotations

from koppel.agent.update_picture import Placed, advice, spread
from koppel.protocol.api import InstallationSource

AGENT = "2026.2"


def test_one_update_for_all_needs_nothing() -> None:
    assert advice([Placed("F1", "firm", AGENT), Placed("C1", "client", AGENT)], AGENT) is None


def test_all_on_a_newer_update_install_its_agent_where_the_server_says() -> None:
    where = InstallationSource(environment="F1", portal="https://p.example/portal/F1")
    placed = [
        Placed("C1", "client", "2026.3", firm="F1"),
        Placed("F1", "firm", "2026.3", installation=where),
    ]
    said = advice(placed, AGENT)
    assert said is not None
    assert said.startswith("all your linked environments are on update 2026.3: install")
    assert '"Save installation" for F1 on the portal https://p.example/portal/F1' in said


def test_without_a_place_to_save_installation_ask_the_administrator() -> None:
    said = advice([Placed("C1", "client", "2026.3", firm="F1")], AGENT)
    assert said is not None
    assert "ask the administrator for the agent of update 2026.3" in said
    assert "Save installation" not in said


def test_mixed_updates_name_the_fewest_and_convert_the_firms_behind() -> None:
    placed = [
        Placed("F1", "firm", "2026.1"),
        Placed("C1", "client", "2026.2", firm="F1"),
        Placed("C2", "client", "2026.1", firm="F1"),
        # A server that does not say the firm, and no firm linked from it.
        Placed("C9", "client", "2026.1", server="https://other.example"),
    ]
    assert spread(placed) == "C1 is on 2026.2, the rest on 2026.1"
    said = advice(placed, AGENT)
    assert said is not None
    assert "ask the administrators to convert F1 with its clients and C9 to update 2026.2" in said
    assert "`koppel-admin env convert F1 --with-clients --to 2026.2`" in said
    assert "`koppel-admin env convert C9 --to 2026.2`" in said
    assert "install the agent" not in said  # the agent is on the target already


def test_a_client_whose_server_does_not_say_its_firm_goes_with_the_linked_firm() -> None:
    placed = [Placed("F1", "firm", "2026.1"), Placed("C1", "client", "2026.1")]
    placed.append(Placed("C2", "client", "2026.2"))
    said = advice(placed, AGENT)
    assert said is not None and "convert F1 with its clients to update 2026.2" in said


def test_a_tie_names_the_newer_side() -> None:
    placed = [Placed("F1", "firm", "2026.1"), Placed("C1", "client", "2026.2", firm="F1")]
    assert spread(placed) == "C1 is on 2026.2, the rest on 2026.1"
