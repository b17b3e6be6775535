"""Every agent request checks its token afresh (the token and its app connector are read
together, in one query): blocking the connector or revoking the token refuses the very
next request; nothing about a token is remembered between requests."""

from __future__ import annotations

from api_in_process import AgentApi
from app_client import InProcess
from koppel.server.domain.model import ConnectorName
from koppel.server.domain.setup.administration import Admin


def _block(app: InProcess, env: str, blocked: bool) -> None:
    with app.transaction() as uow:
        admin = Admin(uow.core, app.svc.policy, "test")
        admin.set_connector_blocked(env, ConnectorName.COMMUNICATION_CENTER, blocked)


def test_a_blocked_connector_refuses_the_next_request(demo_app: InProcess) -> None:
    anna = AgentApi(demo_app, "C20001")
    assert anna.request("GET", "files").status_code == 200
    _block(demo_app, "C20001", True)
    refused = anna.request("GET", "files")
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "connector_blocked"
    _block(demo_app, "C20001", False)
    assert anna.request("GET", "files").status_code == 200


def test_another_environment_s_blocked_connector_does_not_refuse(demo_app: InProcess) -> None:
    anna = AgentApi(demo_app, "C20001")
    _block(demo_app, "F10001", True)
    assert anna.request("GET", "files").status_code == 200


def test_a_revoked_token_refuses_the_next_request(demo_app: InProcess) -> None:
    anna = AgentApi(demo_app, "C20001")
    assert anna.request("GET", "files").status_code == 200
    revoked = demo_app.admin("tokens", "revoke", "C20001", "--workstation", anna.workstation)
    assert revoked.returncode == 0, revoked.output
    refused = anna.request("GET", "files")
    assert refused.status_code == 401, refused.text
    assert refused.json()["code"] == "token_revoked"
