"""Revoking a workstation in many environments at once (a lost laptop): which tokens a
workstation name or id matches, and revoking them with one audit entry per environment
and one event per token, so the agent's watcher drops each environment at once.

Used by ``koppel-admin tokens revoke --workstation`` and the portal's administration
pages (through ``Admin.revoke_workstation``) and by a user's own "this device is lost"
(``devices.revoke_lost_device``).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from koppel.server.domain import events
from koppel.server.domain.audit import record
from koppel.server.domain.events import EventRepository
from koppel.server.domain.model import Environment, RevokeReason, TokenView
from koppel.server.domain.policy import Policy
from koppel.server.domain.repository import Repository

# A notice lists this many environment codes, then "and N more".
_CODES_SHOWN = 8


def plural(count: int, word: str) -> str:
    """``1 token``, ``2 tokens``."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def codes_text(codes: Sequence[str]) -> str:
    """Environment codes for a sentence, cut after a few: ``C1, C2 and 40 more``."""
    if len(codes) <= _CODES_SHOWN:
        return ", ".join(codes)
    return f"{', '.join(codes[:_CODES_SHOWN])} and {len(codes) - _CODES_SHOWN} more"


@dataclass(frozen=True)
class EnvironmentRevocation:
    """The tokens of one environment that a revocation ends (or would end)."""

    environment: Environment
    tokens: tuple[TokenView, ...]

    @property
    def logins(self) -> list[str]:
        """Whose tokens they are."""
        return sorted({v.account.login for v in self.tokens})


@dataclass(frozen=True)
class WorkstationRevocation:
    """What revoking a workstation did, per environment; ``done`` False: a preview."""

    workstation: str
    environments: tuple[EnvironmentRevocation, ...]
    done: bool

    @property
    def count(self) -> int:
        """How many tokens."""
        return sum(len(e.tokens) for e in self.environments)

    @property
    def codes(self) -> list[str]:
        """The environments concerned, by code."""
        return [e.environment.code for e in self.environments]

    @property
    def logins(self) -> list[str]:
        """Whose tokens they are."""
        return sorted({login for e in self.environments for login in e.logins})

    @property
    def workstations(self) -> list[tuple[str, str]]:
        """The workstations concerned: (id, name as last linked), by name."""
        newest: dict[str, TokenView] = {}
        for env in self.environments:
            for view in env.tokens:
                known = newest.get(view.token.workstation_id)
                if known is None or view.token.created_at > known.token.created_at:
                    newest[view.token.workstation_id] = view
        return sorted(
            ((key, view.token.workstation_name) for key, view in newest.items()),
            key=lambda pair: (pair[1], pair[0]),
        )

    @property
    def message(self) -> str:
        """One sentence: what was (or would be) revoked, where, and for whom."""
        if not self.environments:
            return f"Nothing to revoke: {self.workstation} has no active access left."
        verb = "revoked" if self.done else "would be revoked"
        return (
            f"{plural(self.count, 'token')} of {self.workstation} {verb} in "
            f"{plural(len(self.environments), 'environment')} ({codes_text(self.codes)}); "
            f"{'user' if len(self.logins) == 1 else 'users'}: {', '.join(self.logins)}."
        )


def by_environment(views: Sequence[TokenView]) -> tuple[EnvironmentRevocation, ...]:
    """Tokens grouped per environment, by environment code."""
    grouped: dict[str, list[TokenView]] = {}
    envs: dict[str, Environment] = {}
    for view in views:
        grouped.setdefault(view.environment.code, []).append(view)
        envs[view.environment.code] = view.environment
    return tuple(
        EnvironmentRevocation(envs[code], tuple(grouped[code])) for code in sorted(grouped)
    )


def active(views: Sequence[TokenView], policy: Policy) -> list[TokenView]:
    """The tokens that still give access (neither revoked nor expired)."""
    now = policy.clock()
    return [v for v in views if v.token.usable(now)]


def similar_names(known: set[str], wanted: str, limit: int = 5) -> list[str]:
    """Workstation names close to one that matched nothing: another case, a part of the
    name, a typo; at most ``limit``."""
    folded: dict[str, list[str]] = {}
    for name in known:
        folded.setdefault(name.casefold(), []).append(name)
    key = wanted.casefold()
    close = [f for f in folded if key in f]
    close += difflib.get_close_matches(key, list(folded), n=limit, cutoff=0.75)
    others = sorted({name for f in close if f != key for name in folded[f]}, key=str.casefold)
    # The same name in another case first: the likeliest meant.
    return (sorted(folded.get(key, [])) + others)[:limit]


def revoke(
    repo: Repository,
    event_store: EventRepository | None,
    policy: Policy,
    actor: str,
    views: Sequence[TokenView],
    reason: RevokeReason,
    **detail: object,
) -> tuple[EnvironmentRevocation, ...]:
    """Revoke the tokens among ``views`` that still give access: one ``token.revoke``
    audit entry per environment (with ``detail``), one event per token for its agent.
    What was revoked, per environment (nothing when none was active any more)."""
    now = policy.clock()
    ending = active(views, policy)
    if not ending or not repo.revoke_tokens([v.token.id for v in ending], now, reason):
        return ()
    done = by_environment(ending)
    for env in done:
        names = sorted({v.token.workstation_name for v in env.tokens})
        record(
            repo,
            policy,
            actor,
            "token.revoke",
            env.environment.code,
            tokens=[v.token.public_id for v in env.tokens],
            logins=env.logins,
            reason=reason.value,
            workstation=", ".join(names),
            **detail,
        )
    if event_store is not None:
        # The workstation's watcher drops the environment at once.
        for view in ending:
            events.record(
                event_store,
                now,
                view.environment.id,
                events.TOKEN_REVOKED,
                view.membership.id,
                environment=view.environment.code,
                token=view.token.public_id,
                workstation_id=view.token.workstation_id,
                workstation_name=view.token.workstation_name,
                reason=reason.value,
            )
    return done
