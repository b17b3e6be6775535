"""What the submit window offers: the linked environments (the one used last first) and,
for the one chosen, its destinations and item types from the server, cached on disk so
that a submission can still be prepared (and queued) offline."""

from __future__ import annotations

from dataclasses import dataclass

from koppel.agent.api import AgentClient
from koppel.agent.environments import explain, find, token_of
from koppel.agent.errors import ApiError, ServerUnreachable
from koppel.agent.local import state as state_mod
from koppel.agent.local import submit_memory
from koppel.agent.local.state import now_iso
from koppel.agent.local.submit_memory import Choices
from koppel.agent.submitting import NotSetUp


@dataclass(frozen=True)
class EnvironmentChoice:
    """One linked environment as the window lists it."""

    code: str
    name: str

    @property
    def label(self) -> str:
        """What the list shows: code and name."""
        return f"{self.code} — {self.name}" if self.name else self.code


@dataclass
class LoadedChoices:
    """The destinations and item types of one environment, and where they came from."""

    choices: Choices
    offline: bool  # the server was unreachable: these come from the cache (maybe empty)


def environments() -> list[EnvironmentChoice]:
    """The linked environments, the one used last first, then by code."""
    linked = state_mod.read().state.environments
    last = submit_memory.load().last_environment
    found = [EnvironmentChoice(env.code, env.name) for env in linked.values()]
    return sorted(found, key=lambda e: (e.code != last, e.code))


def remember_environment(code: str) -> None:
    """Offer ``code`` first next time."""
    memory = submit_memory.load()
    memory.last_environment = code
    submit_memory.save(memory)


def load_choices(code: str) -> LoadedChoices:
    """Ask the server for the destinations and item types of ``code`` (and keep them);
    the kept ones when it cannot be reached. A refusal (revoked access, nothing set up)
    is raised as the ``koppel submit`` command reports it."""
    state, env = find(code)
    token = token_of(state, env)
    try:
        with AgentClient(env.api_url) as client:
            destinations = client.destinations(code, token)
            types = client.item_types(code, token)
    except ServerUnreachable:
        cached = submit_memory.load().choices.get(code, Choices())
        return LoadedChoices(cached, offline=True)
    except ApiError as exc:
        raise explain(code, exc) from exc
    if not destinations or not types:
        raise NotSetUp(code, not destinations, not types)
    choices = Choices([(d.code, d.name) for d in destinations], [t.name for t in types], now_iso())
    memory = submit_memory.load()
    memory.choices[code] = choices
    submit_memory.save(memory)
    return LoadedChoices(choices, offline=False)
