"""Ask servers about many links at once: one POST /status per server, never one per environment."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from koppel.agent.api import AgentClient, server_base
from koppel.agent.errors import AgentError
from koppel.agent.local.state import LinkedEnv, now_iso
from koppel.protocol.api import (
    MAX_STATUS_QUERIES,
    EnvironmentStatus,
    StatusQuery,
    StatusRequest,
)

# The server answers at most this many environments per call: larger sets are asked in turn.
_BATCH = MAX_STATUS_QUERIES
_MAX_PARALLEL_SERVERS = 8


@dataclass
class Outcome:
    """What we learned about one link: the server's status, or why there is none."""

    env: LinkedEnv
    server: str
    status: EnvironmentStatus | None = None
    error: AgentError | None = None  # the server was unreachable or refused the whole call
    token_lost: bool = False  # the local token store no longer has this token


def group_by_server(envs: Iterable[LinkedEnv]) -> dict[str, list[LinkedEnv]]:
    """Environments grouped by server root address, in their original order."""
    groups: dict[str, list[LinkedEnv]] = {}
    for env in envs:
        groups.setdefault(server_base(env.api_url), []).append(env)
    return groups


def query(envs: list[LinkedEnv], tokens: dict[str, str | None]) -> dict[str, Outcome]:
    """The status of every environment by code; servers are asked in parallel."""
    outcomes: dict[str, Outcome] = {}
    jobs: list[tuple[str, list[LinkedEnv]]] = []
    for server, group in group_by_server(envs).items():
        asked = []
        for env in group:
            if tokens.get(env.code):
                asked.append(env)
            else:
                outcomes[env.code] = Outcome(env, server, token_lost=True)
        if asked:
            jobs.append((server, asked))
    if len(jobs) == 1:
        results = [_ask(jobs[0][0], jobs[0][1], tokens)]
    else:
        with ThreadPoolExecutor(max_workers=min(_MAX_PARALLEL_SERVERS, len(jobs) or 1)) as pool:
            results = list(pool.map(lambda job: _ask(job[0], job[1], tokens), jobs))
    for result in results:
        outcomes.update(result)
    return {env.code: outcomes[env.code] for env in envs}


def _ask(server: str, envs: list[LinkedEnv], tokens: dict[str, str | None]) -> dict[str, Outcome]:
    outcomes: dict[str, Outcome] = {}
    try:
        with AgentClient(server) as client:
            for start in range(0, len(envs), _BATCH):
                batch = envs[start : start + _BATCH]
                request = StatusRequest(
                    environments=[
                        StatusQuery(environment=env.code, token=tokens[env.code] or "")
                        for env in batch
                    ]
                )
                answer = client.status(request)
                by_code = {status.environment: status for status in answer.statuses}
                for env in batch:
                    outcomes[env.code] = Outcome(env, server, status=by_code.get(env.code))
    except AgentError as exc:
        for env in envs:
            outcomes.setdefault(env.code, Outcome(env, server, error=exc))
    return outcomes


def record(env: LinkedEnv, outcome: Outcome, state_name: str) -> None:
    """Keep what the server said about an environment (name, update) and the check's result."""
    status = outcome.status
    if status is not None:
        if status.name:
            env.name = status.name
        if status.update:
            env.update = status.update
    env.last_check = now_iso()
    env.last_state = state_name
