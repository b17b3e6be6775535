"""The demo practice's dossier: a few destinations per environment and three item types
("Correspondence" editable, "Payslip" confidential to the Payroll group, "Invoice").
Idempotent: a second run changes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from koppel.server.domain.dossier import catalog as dossier_catalog
from koppel.server.domain.setup.administration import Admin

if TYPE_CHECKING:
    from koppel.server.domain.unit_of_work import UnitOfWork

PAYROLL_GROUP = "Payroll"
PAYROLL_MEMBER = "anna"  # bram is not in Payroll: he never sees payslips


def _destinations_csv(name: str) -> str:
    return (
        "code,name,kind\n"
        f'ORG,"{name}",organisation\n'
        "D0001,Hotel De Kroon,debtor\n"
        "C0001,Groothandel Bakker,creditor\n"
        "E0001,Sanne Mulder,employee\n"
        "P0001,Jan de Wit,person\n"
    )


def create_demo_dossier(
    uow: UnitOfWork, admin: Admin, environments: Sequence[tuple[str, str]]
) -> None:
    """Destinations, the Payroll group and the item types of each demo environment."""
    repo, store = uow.core, uow.dossier
    for code, name in environments:
        dossier_catalog.import_destinations(
            repo, store, admin.policy, admin.actor, code, _destinations_csv(name)
        )
        admin.create_group(code, PAYROLL_GROUP)
        admin.set_group_member(code, PAYROLL_GROUP, PAYROLL_MEMBER, True)
        for type_name, editable, confidential, groups in (
            ("Correspondence", True, False, ()),
            ("Invoice", False, False, ()),
            ("Payslip", False, True, (PAYROLL_GROUP,)),
        ):
            dossier_catalog.create_item_type(
                repo,
                store,
                admin.policy,
                admin.actor,
                code,
                type_name,
                editable=editable,
                confidential=confidential,
                groups=groups,
            )
