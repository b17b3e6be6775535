"""Accounts' e-mail addresses set by the administrator: one at a time, or many accounts at
once from a CSV file (``login,name,email``).

An imported account that is new gets a random password nobody knows: its user chooses
one through the forgot-password page (the link goes to the imported address), or the
administrator sets one (``koppel-admin accounts set-password``). Every row is checked
before anything changes, so a bad row imports nothing.
"""

from __future__ import annotations

import csv
import io
import secrets
from dataclasses import dataclass

from koppel.i18n import gettext as _
from koppel.protocol.errors import ErrorCode
from koppel.server.domain import lookups, names
from koppel.server.domain.errors import DomainError
from koppel.server.domain.mail_address import optional_email
from koppel.server.domain.setup.administration import Admin, Outcome

COLUMNS = ("login", "name", "email")
# A header row may name the columns in Dutch or French, as an office's spreadsheet does.
HEADER_NAMES = {
    "login": "login", "gebruikersnaam": "login", "identifiant": "login",
    "name": "name", "naam": "name", "nom": "name",
    "email": "email", "e-mail": "email", "e-mailadres": "email", "courriel": "email",
    "adresse e-mail": "email", "mail": "email",
}  # fmt: skip


def _delimiter(text: str) -> str:
    """``;`` or ``,``: Excel writes CSV with semicolons where the decimal sign is a comma
    (the Netherlands, Belgium, France). The first line that holds data decides."""
    for first in text.splitlines():
        if first.strip() and not first.lstrip().startswith("#"):
            return ";" if first.count(";") > first.count(",") else ","
    return ","


def set_email(admin: Admin, login: str, address: str | None) -> Outcome:
    """Give an account an e-mail address (None or empty: remove it); audited."""
    acct = lookups.account(admin.repo, login)
    email = optional_email(address)
    if acct.email == email:
        if email is None:
            return Outcome(False, _("account {login} has no e-mail address").format(
                login=acct.login))  # fmt: skip
        return Outcome(False, _("account {login} already has the e-mail address {email}").format(
            login=acct.login, email=email))  # fmt: skip
    acct.email = email
    admin.repo.save_account(acct)
    admin._audit("account.email", None, login=acct.login, email=email)
    if email is None:
        return Outcome(True, _("e-mail address of {login} removed").format(login=acct.login))
    return Outcome(True, _("e-mail address of {login} set to {email}").format(
        login=acct.login, email=email))  # fmt: skip


@dataclass(frozen=True)
class AccountRow:
    """One checked row of an accounts CSV."""

    line: int
    login: str
    name: str
    email: str | None


def _refuse(line: int, message: str) -> DomainError:
    return DomainError(
        ErrorCode.VALIDATION_ERROR,
        _("line {line}: {problem}").format(line=line, problem=message),
    )


def parse_rows(text: str) -> list[AccountRow]:
    """The rows of an accounts CSV (columns ``login,name,email``, separated by ``,`` or
    ``;``; a header row may name them in another order and in Dutch or French:
    ``login;naam;e-mail``, ``login;nom;courriel``; ``email`` may be left out or empty),
    each checked: the first bad row refuses them all, naming its line."""
    columns: tuple[str, ...] = COLUMNS
    rows: list[AccountRow] = []
    seen: dict[str, int] = {}
    header_done = False
    text = text.removeprefix("\ufeff")  # the byte-order mark Excel puts first
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text))
    for line, raw in enumerate(reader, start=1):
        cells = [c.strip() for c in raw]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if not header_done and not rows and HEADER_NAMES.get(cells[0].lower()) == "login":
            unknown = [c for c in cells if c.lower() not in HEADER_NAMES]
            if unknown:
                raise _refuse(line, _("unknown column {names}; the columns are {columns}").format(
                    names=", ".join(unknown), columns=", ".join(COLUMNS)))  # fmt: skip
            columns = tuple(HEADER_NAMES[c.lower()] for c in cells)
            header_done = True
            continue
        if len(cells) > len(columns):
            raise _refuse(line, _("{count} values; the columns are {columns}").format(
                count=len(cells), columns=", ".join(columns)))  # fmt: skip
        values = dict(zip(columns, cells, strict=False))
        try:
            login = names.login(values.get("login", ""))
            email = optional_email(values.get("email"))
        except DomainError as exc:
            raise _refuse(line, exc.message) from None
        if login in seen:
            raise _refuse(line, _("{login} is already on line {first}").format(
                login=login, first=seen[login]))  # fmt: skip
        seen[login] = line
        rows.append(AccountRow(line, login, values.get("name") or login, email))
    if not rows:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("The file holds no accounts."))
    return rows


def import_rows(admin: Admin, rows: list[AccountRow]) -> list[Outcome]:
    """Create the rows' missing accounts and set the addresses the rows give (an existing
    account's name and password stay as they are)."""
    done: list[Outcome] = []
    for row in rows:
        # An existing account is left as it is ("already exists"): the password is not used.
        done.append(admin.create_account(row.login, row.name, secrets.token_urlsafe(24)))
        if row.email is not None:
            done.append(set_email(admin, row.login, row.email))
    return done
