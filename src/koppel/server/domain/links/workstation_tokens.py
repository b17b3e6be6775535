"""The bulk token check of the routes that serve many environments of one workstation at
once (the event stream's session, the pending files): each token's ``/status`` answer,
and a token issued to another workstation refused."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from koppel.protocol.api import StatusQuery
from koppel.protocol.errors import ErrorCode
from koppel.protocol.secrets import TOKEN_PREFIX, split_secret
from koppel.server.domain.links import linking
from koppel.server.domain.model import TokenView
from koppel.server.domain.policy import Policy
from koppel.server.domain.repository import Repository

OTHER_WORKSTATION = "This token was issued to another workstation."


@dataclass(frozen=True)
class TokenCheck:
    """One environment of a bulk request: ``view`` is set exactly when ``state`` is "ok"."""

    environment: str
    state: str
    message: str | None
    view: TokenView | None

    @property
    def valid(self) -> bool:
        """Whether this token may be served."""
        return self.view is not None


def check(
    repo: Repository,
    policy: Policy,
    agent_update: str,
    queries: Sequence[StatusQuery],
    workstation_id: str,
) -> list[TokenCheck]:
    """Every token of the request, in order, checked in a few bulk reads."""
    answers = linking.statuses(repo, policy, agent_update, queries)
    ids = [p.public_id for q in queries if (p := split_secret(q.token, TOKEN_PREFIX))]
    views = repo.tokens_by_public_id(ids)
    checks: list[TokenCheck] = []
    for query, answer in zip(queries, answers, strict=True):
        parts = split_secret(query.token, TOKEN_PREFIX)
        view = views.get(parts.public_id) if parts else None
        if answer.state != "ok" or view is None:
            checks.append(TokenCheck(answer.environment, str(answer.state), answer.message, None))
        elif view.token.workstation_id != workstation_id:
            checks.append(
                TokenCheck(
                    answer.environment, ErrorCode.TOKEN_INVALID.value, OTHER_WORKSTATION, None
                )
            )
        else:
            checks.append(TokenCheck(answer.environment, "ok", answer.message, view))
    return checks
