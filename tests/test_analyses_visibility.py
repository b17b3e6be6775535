"""Every analysis shows its requester only the items that user may list: for each kind of
analysis (``analyses.KINDS``), the rows of the .xlsx the job makes are the items
``GET …/items`` gives that user, for a member of the Payroll group and for a user outside
it, with confidential items (payslips) written by each. Visibility is the requester's at
the time the job runs. In process (``demo_app``), the job run by ``run_jobs``.
"""

from __future__ import annotations

import io
import re
from html import unescape
from typing import Any

import pytest
from openpyxl import load_workbook

from api_in_process import AgentApi
from app_client import DEMO_PASSWORD, UPDATE, AppClient, InProcess
from koppel.server.demo_dossier import PAYROLL_GROUP, PAYROLL_MEMBER
from koppel.server.domain.jobs import analyses
from koppel.server.domain.setup.administration import Admin

ENV = "C20001"
OUTSIDER = "bram"  # not in Payroll in the demo


def set_payroll(app: InProcess, login: str, member: bool) -> None:
    """Add ``login`` to (or remove from) the Payroll group, as an administrator does."""
    with app.transaction() as uow:
        Admin(uow.core, app.svc.policy, "test").set_group_member(ENV, PAYROLL_GROUP, login, member)


def rows_of(workbook: bytes) -> dict[int, dict[str, Any]]:
    """The rows of the workbook's first sheet by the id in its "Item" column."""
    sheet = load_workbook(io.BytesIO(workbook), read_only=True).worksheets[0]
    lines = [list(r) for r in sheet.iter_rows(values_only=True)]
    header = [str(h) for h in lines[0]]
    rows = [dict(zip(header, line, strict=True)) for line in lines[1:]]
    by_id = {int(r["Item"]): r for r in rows}
    assert len(by_id) == len(rows), "an item appears twice"
    return by_id


def assert_same(rows: dict[int, dict[str, Any]], listed: dict[int, dict[str, Any]]) -> None:
    """The analysis shows exactly the listed items, with their listed details."""
    assert sorted(rows) == sorted(listed)
    for item_id, row in rows.items():
        item = listed[item_id]
        shown = {k: row[k] for k in ("Subject", "Type", "Destination", "Author") if k in row}
        expected = {
            "Subject": item["subject"],
            "Type": item["type"],
            "Destination": item["destination"]["code"],
            "Author": item["author"],
        }
        assert shown == {k: expected[k] for k in shown}, item_id
        if "Total size (bytes)" in row:
            sizes = sum(a["current"]["size"] for a in item["attachments"])
            assert row["Total size (bytes)"] == sizes


@pytest.fixture
def dossier(demo_app: InProcess) -> dict[str, Any]:
    """anna (Payroll) and bram (not) each with a payslip of their own, and ordinary items.
    bram filed his payslip while he was in Payroll; he left the group since."""
    anna, bram = AgentApi(demo_app, ENV, PAYROLL_MEMBER), AgentApi(demo_app, ENV, OUTSIDER)
    set_payroll(demo_app, OUTSIDER, True)
    bram_payslip = bram.file_item("Loonstrook bram maart", "Payslip", "E0001", 120)
    set_payroll(demo_app, OUTSIDER, False)
    anna_payslips = [
        anna.file_item(f"Loonstrook anna {m}", "Payslip", "E0001", 200) for m in (1, 2)
    ]
    others = [
        anna.file_item("Factuur Hotel De Kroon", "Invoice", "D0001", 30),
        anna.file_item("Brief aan de Belastingdienst", "Correspondence", "ORG", 40),
        bram.file_item("Inkoopfactuur Bakker", "Invoice", "C0001", 50),
        bram.file_item("Notitie loonadministratie", "Correspondence", "E0001", 60),
    ]
    return {
        "anna": anna,
        "bram": bram,
        "bram_payslip": bram_payslip,
        "anna_payslips": anna_payslips,
        "others": others,
    }


@pytest.mark.parametrize("kind", analyses.KINDS)
@pytest.mark.parametrize("destination", [None, "E0001"])
def test_every_analysis_shows_what_its_requester_may_list(
    demo_app: InProcess, dossier: dict[str, Any], kind: str, destination: str | None
) -> None:
    everything = {dossier["bram_payslip"], *dossier["anna_payslips"], *dossier["others"]}
    for login in (PAYROLL_MEMBER, OUTSIDER):
        user: AgentApi = dossier[login]
        listed = user.listed(destination)
        # The setup covers the rule: the member lists every payslip, the outsider only
        # the one he wrote.
        if login == PAYROLL_MEMBER:
            assert set(user.listed()) == everything
        else:
            assert set(user.listed()) == everything - set(dossier["anna_payslips"])
        file_id = user.analysis(kind, destination)
        assert demo_app.run_jobs() == 1
        rows = rows_of(user.content(file_id))
        assert_same(rows, listed)


def test_visibility_is_the_requesters_when_the_job_runs(
    demo_app: InProcess, dossier: dict[str, Any]
) -> None:
    bram: AgentApi = dossier["bram"]
    set_payroll(demo_app, OUTSIDER, True)
    assert set(dossier["anna_payslips"]) <= set(bram.listed())
    file_ids = [bram.analysis(kind) for kind in analyses.KINDS]
    # bram leaves Payroll before the jobs run: anna's payslips are no longer his to see.
    set_payroll(demo_app, OUTSIDER, False)
    assert demo_app.run_jobs() == len(file_ids)
    listed = bram.listed()
    assert not set(dossier["anna_payslips"]) & set(listed)
    for file_id in file_ids:
        assert_same(rows_of(bram.content(file_id)), listed)


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_DOWNLOAD = re.compile(r'href="([^"]+/files/\d+/content)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF token on the page"
    return unescape(found.group(1))


def portal_sign_in(http: AppClient, login: str) -> None:
    """Sign in through the portal's form, as a browser does."""
    form = http.get("/portal/F10001/sign-in")
    assert form.status_code == 200
    done = http.post(
        "/portal/F10001/sign-in",
        data={"login": login, "password": DEMO_PASSWORD, "csrf_token": csrf_of(form.text)},
        follow_redirects=True,
    )
    assert done.status_code == 200 and "Welcome" in done.text, done.text


def test_the_portal_button_shows_what_its_user_may_list(
    demo_app: InProcess, dossier: dict[str, Any]
) -> None:
    http = demo_app.client()
    portal_sign_in(http, OUTSIDER)
    page = http.get(f"/portal/F10001/environments/{ENV}/files")
    assert page.status_code == 200 and "Request the dossier overview" in page.text
    # What the page's "Request the dossier overview" form posts.
    form = {"kind": analyses.DOSSIER_OVERVIEW, "destination": "", "csrf_token": csrf_of(page.text)}
    requested = http.post(
        f"/portal/F10001/environments/{ENV}/analyses", data=form, follow_redirects=True
    )
    assert requested.status_code == 200, requested.text
    assert demo_app.run_jobs() == 1
    page = http.get(f"/portal/F10001/environments/{ENV}/files")
    (link,) = _DOWNLOAD.findall(page.text)
    workbook = http.get(unescape(link), headers=UPDATE)
    assert workbook.status_code == 200
    rows = rows_of(workbook.content)
    assert_same(rows, dossier["bram"].listed())
    assert dossier["bram_payslip"] in rows
    assert not set(dossier["anna_payslips"]) & set(rows)


@pytest.mark.parametrize("destination", ["NOPE", "\U00101d49\x8cX"])
def test_an_analysis_of_a_destination_that_does_not_exist_is_refused_over_the_api(
    demo_app: InProcess, destination: str
) -> None:
    # The portal refused it; the API queued an empty overview, or answered a file-name
    # error for a code with a control character (found by the schema fuzz test).
    anna = AgentApi(demo_app, "C20001", "anna")
    answer = anna.request("POST", "analyses", json={"kind": "dossier-overview",
                                                    "destination": destination})  # fmt: skip
    assert answer.status_code == 404, answer.text
    assert answer.json()["code"] == "not_found"
    assert "has no destination" in answer.json()["message"]
    listed = anna.request("GET", "files")
    assert listed.status_code == 200 and listed.json()["files"] == [], listed.text
