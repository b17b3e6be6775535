"""Shared plumbing of ``koppel-admin``: settings, the one unit of work per command, the
shared options, and how refusals become one line on stderr and a distinct exit code."""

from __future__ import annotations

import getpass
import json
import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.exceptions import TyperException

from koppel.protocol.errors import ErrorCode
from koppel.protocol.functions import Function, parse_function

if TYPE_CHECKING:
    from koppel.server.adapters.assembly import ServerServices
    from koppel.server.config import ServerSettings
    from koppel.server.domain.policy import Policy
    from koppel.server.domain.setup.administration import Admin
    from koppel.server.services import Services

# Exit codes (documented in `koppel-admin --help`).
EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3
EXIT_NOT_FOUND = 4
EXIT_REFUSED = 5
EXIT_INTERRUPTED = 130  # Ctrl+C (128 + SIGINT), as shells report it

_NOT_FOUND = {ErrorCode.UNKNOWN_ENVIRONMENT, ErrorCode.NOT_FOUND}
# The --json error code when the configured database does not exist or holds no Koppel
# data: koppel-admin never creates one by accident (a mistyped --data-dir).
DATABASE_MISSING = "database_missing"
# The --json error code when the secret key is missing or not the database's (no API
# route answers it: the server does not start without its key).
SECRET_KEY_UNAVAILABLE = "secret_key_unavailable"

FUNCTION_HELP = (
    'Function: a full path or its last segment, e.g. "Save settings"; repeat for several.'
)
FUNCTIONS_DOC = """\b
Functions (a full path, or its last segment, in any case):
  General/Output/My files
  General/User/Communication Center/Save settings
  General/User/Communication Center/Save installation
  General/Management/App connector"""

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON on stdout instead.")
]


def env_code(text: str) -> str:
    """An environment code as stored and shown: trimmed, upper case."""
    return text.strip().upper()


def exit_code_of(code: ErrorCode) -> int:
    """The exit code for a domain refusal: 4 when something is not there, else 5."""
    return EXIT_NOT_FOUND if code in _NOT_FOUND else EXIT_REFUSED


class Refusal(Exception):
    """A refusal decided by the CLI itself (before or around the domain)."""

    def __init__(self, message: str, exit_code: int = EXIT_REFUSED, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.code = code or (
            ErrorCode.VALIDATION_ERROR.value if exit_code != EXIT_NOT_FOUND else "not_found"
        )


@dataclass
class State:
    """What the global options decided, shared by every command of one invocation."""

    overrides: dict[str, Any] = field(default_factory=dict)
    actor_name: str | None = None
    _settings: ServerSettings | None = None
    _services: ServerServices | None = None

    @property
    def actor(self) -> str:
        """The audit actor: ``cli:<--actor or KOPPEL_ACTOR or the OS user>``."""
        name = (self.actor_name or "").strip()
        if not name:
            try:
                name = getpass.getuser()
            except (OSError, KeyError):
                name = "unknown"
        return name if name.startswith("cli:") else f"cli:{name}"

    def settings(self) -> ServerSettings:
        """KOPPEL_* environment variables, overridden by the global options."""
        if self._settings is None:
            from pydantic import ValidationError

            from koppel.server.config import (
                ServerSettings,
                settings_problems,
                unknown_variables,
            )

            for warning in unknown_variables(os.environ):
                typer.echo(f"warning: {warning}", err=True)
            try:
                self._settings = ServerSettings(**self.overrides)
            except ValidationError as exc:
                raise Refusal(
                    f"invalid configuration: {settings_problems(exc)}", EXIT_USAGE
                ) from exc
        return self._settings

    def close(self) -> None:
        """Release the database's connections at the end of the command (the process
        may go on: scripts and tests run several commands in one)."""
        if self._services is not None:
            self._services.database.dispose()
            self._services = None

    def services(self, migrate: bool | None = None, create: bool = False) -> ServerServices:
        """The database and policy (migrating the database first when configured). A
        database that does not exist yet is refused unless ``create`` (``db init``)."""
        if self._services is None:
            from koppel.server.adapters.assembly import create_services
            from koppel.server.adapters.secret_key import SecretKeyError
            from koppel.server.config import data_folder_problem

            settings = self.settings()
            if not create:
                self._require_database()
            try:
                svc = create_services(settings, migrate=migrate)
            except SecretKeyError:
                raise
            except OSError as exc:  # the data folder is a file, read-only, ...
                raise Refusal(data_folder_problem(settings, exc), EXIT_USAGE) from exc
            if migrate is None and not settings.auto_migrate and svc.database.needs_upgrade():
                raise Refusal(
                    "the database lacks migrations of this release; apply them with "
                    "`koppel-admin db upgrade` (or set KOPPEL_AUTO_MIGRATE=true).",
                    EXIT_REFUSED,
                )
            if not svc.database.needs_upgrade():
                svc.policy = _with_server_address(svc, settings)
            self._services = svc
        return self._services

    def database_description(self) -> str:
        """The configured database, for messages (SQLite: its file; else the masked URL)."""
        from koppel.server.adapters.assembly import describe_database

        return describe_database(self.settings())

    def _require_database(self) -> None:
        from koppel.server.adapters.assembly import Presence, database_presence

        settings = self.settings()
        found = database_presence(settings)
        if found is Presence.READY:
            return
        where = self.database_description()
        if found is Presence.UNREACHABLE:
            raise Refusal(
                f"cannot open the database {where}; check --database-url "
                "(KOPPEL_DATABASE_URL) and that the database server runs.",
                EXIT_NOT_FOUND,
                DATABASE_MISSING,
            )
        hint = (
            "check --data-dir (KOPPEL_DATA_DIR)"
            if settings.database_url is None
            else "check --database-url (KOPPEL_DATABASE_URL)"
        )
        raise Refusal(
            f"no Koppel database at {where}. If that is the wrong place, {hint}. A new "
            "host's database is created by the server at its first start (`koppel-server`), "
            "or by `koppel-admin db init`.",
            EXIT_NOT_FOUND,
            DATABASE_MISSING,
        )


def _with_server_address(svc: Services, settings: ServerSettings) -> Policy:
    """The policy with the address agents use: the configured one, else the one the
    server announced at its last start, else marked unknown (never a silent guess)."""
    from dataclasses import replace

    from koppel.server.domain.policy import AddressOrigin
    from koppel.server.domain.setup import host

    if settings.public_url:
        return svc.policy
    with svc.transaction() as uow:
        announced = host.announced_address(uow.host)
    if announced:
        return replace(svc.policy, public_url=announced, address_origin=AddressOrigin.SERVER)
    return replace(svc.policy, address_origin=AddressOrigin.UNKNOWN)


def state_of(ctx: typer.Context) -> State:
    """The invocation's state, set up by the app callback."""
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    return root.obj


def _print_error(message: str, code: str, environment: str | None, json_mode: bool) -> None:
    if json_mode:
        body = {"error": {"code": code, "message": message, "environment": environment}}
        sys.stdout.write(json.dumps(body, ensure_ascii=False) + "\n")
    typer.echo(f"error: {message}", err=True)


@contextmanager
def reporting(json_mode: bool = False) -> Iterator[None]:
    """Turn refusals and failures into one line on stderr and a distinct exit code."""
    from koppel.server.adapters.secret_key import SecretKeyError
    from koppel.server.domain.errors import DomainError

    try:
        yield
    except DomainError as exc:
        # Worded for the administrator: the command to run, not "ask your administrator".
        _print_error(exc.for_administrator(), exc.code.value, exc.environment, json_mode)
        raise typer.Exit(exit_code_of(exc.code)) from None
    except SecretKeyError as exc:
        _print_error(str(exc), SECRET_KEY_UNAVAILABLE, None, json_mode)
        raise typer.Exit(EXIT_REFUSED) from None
    except Refusal as exc:
        _print_error(exc.message, exc.code, None, json_mode)
        raise typer.Exit(exc.exit_code) from None
    except (typer.Exit, TyperException):
        raise  # an exit code chosen already, or a usage error Typer reports (exit 2)
    except (KeyboardInterrupt, typer.Abort):
        # typer.Abort: Ctrl+C or end of input at a prompt (the password, typed twice).
        typer.echo("interrupted; nothing was changed.", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Exception as exc:
        if os.environ.get("KOPPEL_DEBUG"):
            traceback.print_exc()
        message = f"unexpected failure ({type(exc).__name__}): {exc}".splitlines()[0]
        _print_error(
            message + " (set KOPPEL_DEBUG=1 for the traceback)",
            ErrorCode.INTERNAL_ERROR.value,
            None,
            json_mode,
        )
        raise typer.Exit(EXIT_UNEXPECTED) from None


@contextmanager
def unit_of_work(ctx: typer.Context, json_mode: bool = False) -> Iterator[Admin]:
    """One transaction for the whole command: it commits when the block ends, and a
    refusal anywhere in it leaves the database as it was."""
    from koppel.server.domain.setup.administration import Admin

    state = state_of(ctx)
    with reporting(json_mode):
        svc = state.services()
        with svc.transaction() as uow:
            yield Admin.of(uow, svc.policy, state.actor)


def parse_functions(values: list[str] | None) -> list[Function]:
    """``--function`` values as function paths, or a usage error naming the choices."""
    if not values:
        raise typer.BadParameter("give at least one --function", param_hint="--function")
    found: list[Function] = []
    for value in values:
        try:
            function = parse_function(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--function") from None
        if function not in found:
            found.append(function)
    return found


def split_logins(values: list[str] | None) -> list[str]:
    """Logins from repeated options, also accepting comma-separated lists."""
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


def read_password(stdin: bool, given: str | None) -> str:
    """The password from stdin, the option, or a hidden prompt typed twice."""
    if stdin and given is not None:
        raise typer.BadParameter("give either --password-stdin or --password, not both")
    if stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise Refusal("no password on standard input", EXIT_USAGE)
        return password
    if given is not None:
        return given
    if sys.stdin.isatty():
        value = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        return str(value)
    raise Refusal(
        "no password given and no terminal to ask on; pipe it with --password-stdin "
        "(or give --password).",
        EXIT_USAGE,
    )


def path_or_stdin(path: Path) -> str:
    """The text of a file, or of standard input for ``-``."""
    if str(path) == "-":
        return sys.stdin.read()
    try:
        return path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise Refusal(f"cannot read {path}: {exc.strerror}", EXIT_NOT_FOUND) from exc
