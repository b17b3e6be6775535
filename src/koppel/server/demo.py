"""The demo practice: one firm with a portal, three clients without, two employees
authorized everywhere, the whole procedure applied; anna administers every environment
(General/Management/App connector), so the portal's administration pages have a user;
the firm's dossier is its clients' dossier template. Idempotent."""

from __future__ import annotations

from dataclasses import dataclass

from koppel.protocol.functions import Function
from koppel.server.demo_dossier import create_demo_dossier
from koppel.server.domain.dossier import template as dossier_template
from koppel.server.domain.model import Kind
from koppel.server.domain.setup.administration import Admin
from koppel.server.domain.setup.apply import setup_client, setup_firm
from koppel.server.services import Services

FIRM = ("F10001", "Dekker & Co Accountants")
CLIENTS = (
    ("C20001", "Bakkerij Jansen"),
    ("C20002", "Garage Visser"),
    ("C20003", "Bloemenhuis De Vries"),
)
EMPLOYEES = (("anna", "Anna de Boer"), ("bram", "Bram Visser"))
ADMINISTRATOR = "anna"
PASSWORD = "koppel-demo"


@dataclass(frozen=True)
class DemoPractice:
    """What the demo created, for the start-up banner."""

    firm: str
    clients: tuple[str, ...]
    logins: tuple[str, ...]
    password: str


def create_demo(svc: Services, actor: str = "demo") -> DemoPractice:
    """Create (or complete) the demo practice in one transaction."""
    with svc.transaction() as uow:
        admin = Admin(
            uow.core,
            svc.policy,
            actor,
            dossier=uow.dossier,
            templates=uow.templates,
        )
        for login, name in EMPLOYEES:
            admin.create_account(login, name, PASSWORD)
        admin.create_environment(FIRM[0], FIRM[1], Kind.FIRM, has_portal=True)
        for login, _ in EMPLOYEES:
            admin.add_user(FIRM[0], login)
        setup_firm(admin, FIRM[0])
        for code, name in CLIENTS:
            admin.create_environment(code, name, Kind.CLIENT, has_portal=False, firm=FIRM[0])
            setup_client(admin, code, FIRM[0], [login for login, _ in EMPLOYEES])
        for code, _ in (FIRM, *CLIENTS):
            admin.authorize_user(code, ADMINISTRATOR, [Function.APP_CONNECTOR])
        create_demo_dossier(uow, admin, (FIRM, *CLIENTS))
        if dossier_template.template_of(admin, FIRM[0]).empty:
            # The firm's own dossier is the template of its clients: a client added to
            # the demo with `setup client` can receive documents at once.
            dossier_template.copy_from(admin, FIRM[0], FIRM[0])
    return DemoPractice(
        FIRM[0], tuple(c for c, _ in CLIENTS), tuple(login for login, _ in EMPLOYEES), PASSWORD
    )
