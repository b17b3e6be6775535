"""The unit of work of the dossier commands: the domain repository, the dossier's, the
policy and the audit actor, in one transaction (refusals reported as everywhere)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer

from koppel.server.adapters.cli.admin.common import reporting, state_of

if TYPE_CHECKING:
    from koppel.server.domain.dossier.model import DossierRepository
    from koppel.server.domain.policy import Policy
    from koppel.server.domain.repository import Repository


@dataclass(frozen=True)
class DossierWork:
    """What a dossier command works with."""

    repo: Repository
    dossier: DossierRepository
    policy: Policy
    actor: str


@contextmanager
def dossier_work(ctx: typer.Context, json_mode: bool = False) -> Iterator[DossierWork]:
    """One transaction for the whole command; a refusal leaves the database as it was."""
    state = state_of(ctx)
    with reporting(json_mode):
        svc = state.services()
        with svc.transaction() as uow:
            yield DossierWork(uow.core, uow.dossier, svc.policy, state.actor)
