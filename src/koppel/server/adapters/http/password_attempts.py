"""Running a step that checks a password or a second-factor code, so that a wrong one
always counts: the refusal rolls the step's own transaction back, so the failure is
recorded in a transaction of its own. Used by every door that takes a password (the
portal's sign-in, the device page, the agent API's HTTP Basic)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from koppel.protocol.errors import ErrorCode
from koppel.server.domain.errors import DomainError
from koppel.server.domain.portal import sign_in
from koppel.server.domain.unit_of_work import UnitOfWork
from koppel.server.services import Services

T = TypeVar("T")
_COUNTED = frozenset({ErrorCode.INVALID_CREDENTIALS, ErrorCode.SECOND_FACTOR_INVALID})


def attempt(
    svc: Services,
    login: str,
    address: str,
    step: Callable[[UnitOfWork], T],
) -> T:
    """Run ``step`` in one unit of work; a wrong password or code is recorded as a failed
    sign-in of ``login`` from ``address`` before the refusal goes on."""
    try:
        with svc.transaction() as uow:
            return step(uow)
    except DomainError as exc:
        if exc.code in _COUNTED:
            with svc.transaction() as uow:
                sign_in.record_failure(uow.portal, svc.policy, login, address)
        raise
