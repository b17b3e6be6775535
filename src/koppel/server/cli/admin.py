"""``koppel-admin``: every step of the set-up procedure, the composite ``setup`` commands
and the ``check`` that shows what is missing.

A thin adapter: each command parses its arguments, calls the domain inside ONE unit of
work (so a refused command changes nothing) and renders the result.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from koppel._version import __version__
from koppel.server.cli import _output as out
from koppel.server.cli._common import (
    EXIT_INCOMPLETE,
    EXIT_USAGE,
    FUNCTION_HELP,
    FUNCTIONS_DOC,
    JsonOption,
    Refusal,
    State,
    parse_functions,
    path_or_stdin,
    read_password,
    reporting,
    split_logins,
    state_of,
    unit_of_work,
)
from koppel.server.cli._output import Done
from koppel.server.domain.errors import DomainError
from koppel.server.domain.model import ConnectorName, Kind

_HELP = """Administer a Koppel environment host: accounts, environments, users, authorizations,
portal access, app connectors, user tokens, and the whole set-up procedure.

\b
Typical firm + clients set-up:
  koppel-admin accounts create anna --name "Anna de Boer" --password-stdin
  koppel-admin env create F10001 --name "Dekker & Co" --kind firm
  koppel-admin users add F10001 anna
  koppel-admin setup firm F10001
  koppel-admin env create C20001 --name "Bakkerij Jansen" --kind client --firm F10001
  koppel-admin setup client C20001 --firm F10001 --user anna
  koppel-admin check --all

\b
Every command changes the database in one transaction: all of it, or nothing.
Settings come from KOPPEL_* environment variables, overridden by the options below.

\b
Exit codes:
  0  success
  1  unexpected failure
  2  wrong usage (unknown option, missing argument, ...)
  3  check found missing steps
  4  unknown environment, account, group or token
  5  refused by a rule (validation, not a firm, unsupported update, ...)
"""

app = typer.Typer(
    name="koppel-admin",
    help=_HELP,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
accounts_app = typer.Typer(
    help="Login identities (one per person, usable in many environments).",
    no_args_is_help=True,
)
env_app = typer.Typer(help="Environments: the firm's own and one per client.", no_args_is_help=True)
users_app = typer.Typer(
    help="Users of an environment and the functions they are authorized for.",
    no_args_is_help=True,
)
groups_app = typer.Typer(
    help="Groups of an environment; functions granted to a group apply to its members.",
    no_args_is_help=True,
)
portal_app = typer.Typer(
    help="Portal (InSite) access of an environment's users.", no_args_is_help=True
)
connector_app = typer.Typer(
    help="App connectors (communication-center, temporary-office-access); each starts blocked.",
    no_args_is_help=True,
)
tokens_app = typer.Typer(
    help="User tokens: one per user, environment and linked workstation.", no_args_is_help=True
)
setup_app = typer.Typer(
    help="Apply the whole procedure to a firm or client environments (idempotent).",
    no_args_is_help=True,
)
db_app = typer.Typer(help="The metadata database and its migrations.", no_args_is_help=True)
installation_app = typer.Typer(
    help='Agent packages handed out by "Save installation".', no_args_is_help=True
)
for _sub, _name in (
    (accounts_app, "accounts"),
    (env_app, "env"),
    (users_app, "users"),
    (groups_app, "groups"),
    (portal_app, "portal"),
    (connector_app, "connector"),
    (tokens_app, "tokens"),
    (setup_app, "setup"),
    (db_app, "db"),
    (installation_app, "installation"),
):
    app.add_typer(_sub, name=_name)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"koppel-admin {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Folder of the embedded database and blobs [env KOPPEL_DATA_DIR]."),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="Database URL, e.g. postgresql+psycopg://user:pw@host/db "
            "[env KOPPEL_DATABASE_URL; default SQLite in the data folder]."
        ),
    ] = None,
    public_url: Annotated[
        str | None,
        typer.Option(
            help="Address agents use to reach this server; the default API URL "
            "[env KOPPEL_PUBLIC_URL]."
        ),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option(
            envvar="KOPPEL_ACTOR",
            help="Name recorded in the audit log as cli:NAME; default: your OS user name.",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    overrides = {
        k: v
        for k, v in {
            "data_dir": data_dir,
            "database_url": database_url,
            "public_url": public_url,
        }.items()
        if v is not None
    }
    ctx.obj = State(overrides=overrides, actor_name=actor)


def _code(text: str) -> str:
    return text.strip().upper()


# ----------------------------------------------------------------------------- accounts


@accounts_app.command("create")
def accounts_create(
    ctx: typer.Context,
    login: Annotated[str, typer.Argument(help="Login, e.g. anna (lower case).")],
    name: Annotated[
        str | None, typer.Option("--name", help="Display name; default: the login.")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    password: Annotated[
        str | None,
        typer.Option(
            "--password", help="The password (visible in the process list; prefer stdin)."
        ),
    ] = None,
    json_mode: JsonOption = False,
) -> None:
    """Create an account (idempotent: an existing one is left as it is).

    Without --password-stdin or --password the password is asked twice, hidden, when
    running at a terminal; otherwise the command refuses.
    """
    with reporting(json_mode):
        secret = read_password(password_stdin, password)
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(None, admin.create_account(login, name or login, secret))]
    out.show_outcomes(done, json_mode)


@accounts_app.command("list")
def accounts_list(ctx: typer.Context, json_mode: JsonOption = False) -> None:
    """List every account with the environments it is a user of."""
    with unit_of_work(ctx, json_mode) as admin:
        repo = admin.repo
        codes = {e.id: e.code for e in repo.environments()}
        rows = [
            (a, sorted(codes[m.environment_id] for m in repo.memberships_of(a.id)))
            for a in repo.accounts()
        ]
    if json_mode:
        out.emit_json(
            {
                "accounts": [
                    {
                        "login": a.login,
                        "name": a.display_name,
                        "disabled": a.disabled,
                        "environments": envs,
                    }
                    for a, envs in rows
                ]
            }
        )
        return
    out.table(
        ["login", "name", "disabled", "environments"],
        [
            (
                a.login,
                a.display_name,
                a.disabled,
                envs if len(envs) <= 6 else [*envs[:5], f"... ({len(envs)} in all)"],
            )
            for a, envs in rows
        ],
        "accounts",
    )


@accounts_app.command("disable")
def accounts_disable(
    ctx: typer.Context,
    login: Annotated[str, typer.Argument(help="The account's login.")],
    json_mode: JsonOption = False,
) -> None:
    """Disable an account everywhere: it can no longer save settings or use the agent."""
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(None, admin.set_account_disabled(login, True))]
    out.show_outcomes(done, json_mode)


@accounts_app.command("enable")
def accounts_enable(
    ctx: typer.Context,
    login: Annotated[str, typer.Argument(help="The account's login.")],
    json_mode: JsonOption = False,
) -> None:
    """Enable a disabled account again."""
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(None, admin.set_account_disabled(login, False))]
    out.show_outcomes(done, json_mode)


@accounts_app.command("set-password")
def accounts_set_password(
    ctx: typer.Context,
    login: Annotated[str, typer.Argument(help="The account's login.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    password: Annotated[
        str | None, typer.Option("--password", help="The new password (prefer stdin).")
    ] = None,
    json_mode: JsonOption = False,
) -> None:
    """Replace an account's password (asked twice, hidden, at a terminal)."""
    with reporting(json_mode):
        secret = read_password(password_stdin, password)
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(None, admin.set_password(login, secret))]
    out.show_outcomes(done, json_mode)


# ----------------------------------------------------------------------------- environments


def _env_json(env: Any, firm_code: str | None) -> dict[str, Any]:
    return {
        "code": env.code,
        "name": env.name,
        "kind": env.kind.value,
        "update": env.update,
        "portal": env.has_portal,
        "firm": firm_code,
        "api_url": env.api_url,
        "main_site_url": env.main_site_url,
    }


@env_app.command("create")
def env_create(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code, e.g. F10001 or C20001.")],
    kind: Annotated[Kind, typer.Option("--kind", help="firm or client.", case_sensitive=False)],
    name: Annotated[str | None, typer.Option("--name", help="Name; default: the code.")] = None,
    update: Annotated[
        str | None,
        typer.Option("--update", help="Update, e.g. 2026.2; default: the server's current one."),
    ] = None,
    portal: Annotated[
        bool | None,
        typer.Option(
            "--portal/--no-portal",
            help="Whether it has its own portal; default: firms do, clients do not.",
        ),
    ] = None,
    firm: Annotated[
        str | None, typer.Option("--firm", help="Managing firm of a client environment.")
    ] = None,
    json_mode: JsonOption = False,
) -> None:
    """Create an environment with both app connectors blocked (idempotent)."""
    with unit_of_work(ctx, json_mode) as admin:
        outcome = admin.create_environment(code, name or "", kind, update, portal, firm)
        done = [Done(_code(code), outcome)]
        if not outcome.changed and firm:
            done.append(Done(_code(code), admin.set_firm(code, firm)))
    out.show_outcomes(done, json_mode)


@env_app.command("list")
def env_list(
    ctx: typer.Context,
    kind: Annotated[
        Kind | None, typer.Option("--kind", help="Only firm or client.", case_sensitive=False)
    ] = None,
    json_mode: JsonOption = False,
) -> None:
    """List environments: code, name, kind, update, portal, firm, API URL, main site."""
    with unit_of_work(ctx, json_mode) as admin:
        envs = admin.repo.environments()
    codes = {e.id: e.code for e in envs}
    shown = [e for e in envs if kind is None or e.kind is kind]
    if json_mode:
        out.emit_json(
            {
                "environments": [
                    _env_json(e, codes.get(e.firm_id) if e.firm_id else None) for e in shown
                ]
            }
        )
        return
    out.table(
        ["code", "name", "kind", "update", "portal", "firm", "api url", "main site"],
        [
            (
                e.code,
                e.name,
                e.kind.value,
                e.update,
                e.has_portal,
                codes.get(e.firm_id) if e.firm_id else None,
                e.api_url,
                e.main_site_url,
            )
            for e in shown
        ],
        "environments",
    )


def _short(function: Any) -> str:
    return str(function.value).rsplit("/", 1)[-1]


@env_app.command("show")
def env_show(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    json_mode: JsonOption = False,
) -> None:
    """Show everything about an environment: settings, users (portal access, functions,
    groups), groups, app connectors, clients (of a firm) and active token count."""
    from koppel.server.domain import lookups

    with unit_of_work(ctx, json_mode) as admin:
        repo = admin.repo
        env = lookups.environment(repo, code)
        firm = repo.environment_by_id(env.firm_id) if env.firm_id else None
        members = repo.members([env.id])
        functions = repo.functions_of([m.membership.id for m in members])
        groups = repo.groups(env.id)
        auths = repo.authorizations(env.id)
        in_group = {g.id: repo.group_member_ids(g.id) for g in groups}
        connectors = sorted(repo.connectors([env.id]), key=lambda c: c.name.value)
        clients = repo.clients_of(env.id) if env.kind is Kind.FIRM else []
        tokens = repo.tokens([env.id])
    login_of = {m.membership.id: m.account.login for m in members}
    users: list[dict[str, Any]] = [
        {
            "login": m.account.login,
            "name": m.account.display_name,
            "portal": m.membership.portal_access,
            "disabled": m.account.disabled,
            "functions": sorted(f.value for f in functions.get(m.membership.id, set())),
            "direct_functions": sorted(
                a.function.value for a in auths if a.membership_id == m.membership.id
            ),
            "groups": sorted(g.name for g in groups if m.membership.id in in_group[g.id]),
        }
        for m in members
    ]
    group_rows: list[dict[str, Any]] = [
        {
            "name": g.name,
            "functions": sorted(a.function.value for a in auths if a.group_id == g.id),
            "members": sorted(login_of[i] for i in in_group[g.id] if i in login_of),
        }
        for g in groups
    ]
    data = {
        **_env_json(env, firm.code if firm else None),
        "users": users,
        "groups": group_rows,
        "connectors": [{"name": c.name.value, "blocked": c.blocked} for c in connectors],
        "clients": [c.code for c in clients],
        "active_tokens": len(tokens),
    }
    if json_mode:
        out.emit_json({"environment": data})
        return
    fields = [
        ("code", env.code),
        ("name", env.name),
        ("kind", env.kind.value),
        ("update", env.update),
        ("own portal", "yes" if env.has_portal else "no"),
        ("managing firm", f"{firm.code} {firm.name}" if firm else "-"),
        ("api url", env.api_url or "-"),
        ("main site", env.main_site_url or "-"),
        (
            "connectors",
            ", ".join(f"{c.name.value} {'blocked' if c.blocked else 'open'}" for c in connectors),
        ),
        ("active tokens", str(len(tokens))),
    ]
    if env.kind is Kind.FIRM:
        fields.append(("clients", ", ".join(c.code for c in clients) or "-"))
    width = max(len(k) for k, _ in fields)
    out.write("\n".join(f"{k.ljust(width)}  {v}" for k, v in fields))
    out.write("")
    out.table(
        ["login", "name", "portal", "functions", "groups"],
        [
            (
                u["login"],
                u["name"],
                u["portal"],
                [f.rsplit("/", 1)[-1] for f in u["functions"]],
                u["groups"],
            )
            for u in users
        ],
        "users",
    )
    if group_rows:
        out.write("")
        out.table(
            ["group", "functions", "members"],
            [
                (g["name"], [f.rsplit("/", 1)[-1] for f in g["functions"]], g["members"])
                for g in group_rows
            ],
            "groups",
        )


@env_app.command("set")
def env_set(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    name: Annotated[str | None, typer.Option("--name", help="New name.")] = None,
    portal: Annotated[
        bool | None,
        typer.Option("--portal/--no-portal", help="Whether it has its own portal."),
    ] = None,
    json_mode: JsonOption = False,
) -> None:
    """Rename an environment or record whether it has its own portal."""
    if name is None and portal is None:
        raise typer.BadParameter("give --name and/or --portal/--no-portal")
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(_code(code), admin.set_environment(code, name, portal))]
    out.show_outcomes(done, json_mode)


@env_app.command("set-api-url")
def env_set_api_url(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    url: Annotated[str, typer.Argument(help="Address agents use, e.g. https://koppel.example.com")],
    json_mode: JsonOption = False,
) -> None:
    """Record the address agents use for this environment (the "central local environment"
    setting of self-hosted installations)."""
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(_code(code), admin.set_api_url(code, url))]
    out.show_outcomes(done, json_mode)


@env_app.command("set-main-site")
def env_set_main_site(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    url: Annotated[str, typer.Argument(help="The portal address users start from.")],
    json_mode: JsonOption = False,
) -> None:
    """Record the portal ("main site") of an environment; for a client without a portal of
    its own, the firm's portal."""
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(_code(code), admin.set_main_site(code, url))]
    out.show_outcomes(done, json_mode)


@env_app.command("set-firm")
def env_set_firm(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Client environment code.")],
    firm: Annotated[str, typer.Argument(help="The managing firm's environment code.")],
    json_mode: JsonOption = False,
) -> None:
    """Record which firm manages a client environment."""
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(_code(code), admin.set_firm(code, firm))]
    out.show_outcomes(done, json_mode)


@env_app.command("convert")
def env_convert(
    ctx: typer.Context,
    codes: Annotated[list[str], typer.Argument(help="Environment codes.")],
    to: Annotated[
        str | None,
        typer.Option("--to", help="Target update; default: the server's current update."),
    ] = None,
    with_clients: Annotated[
        bool,
        typer.Option("--with-clients", help="Also convert every client of each firm given."),
    ] = False,
    json_mode: JsonOption = False,
) -> None:
    """Convert environments to a newer update (never back). Users' links are kept; their
    agents must be of the new update from now on ("Save installation")."""
    from koppel.server.domain import lookups

    with unit_of_work(ctx, json_mode) as admin:
        target = to or str(admin.policy.current_update)
        wanted: list[str] = []
        for code in codes:
            env = lookups.environment(admin.repo, code)
            wanted.append(env.code)
            if with_clients and env.kind is Kind.FIRM:
                wanted += [c.code for c in admin.repo.clients_of(env.id)]
        done = [Done(c, admin.convert(c, target)) for c in dict.fromkeys(wanted)]
    converted = [d.environment for d in done if d.outcome.changed]
    note = (
        f"the agents of users must be of update {target} from now on; their links are kept"
        if converted
        else None
    )
    if json_mode:
        out.emit_json(out.outcomes_json(done, update=target, note=note))
        return
    out.show_outcomes(done, False)
    if note:
        out.write(note)


_COLUMNS = ("code", "name", "kind", "update", "firm")


def _csv_rows(text: str) -> list[tuple[int, dict[str, str]]]:
    reader = csv.reader(io.StringIO(text))
    rows: list[tuple[int, dict[str, str]]] = []
    columns: tuple[str, ...] = _COLUMNS
    for number, row in enumerate(reader, start=1):
        cells = [c.strip() for c in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if not rows and cells[0].lower() == "code":
            unknown = [c for c in cells if c.lower() not in _COLUMNS]
            if unknown:
                raise Refusal(f"line {number}: unknown column(s) {', '.join(unknown)}")
            columns = tuple(c.lower() for c in cells)
            continue
        if len(cells) > len(columns):
            raise Refusal(
                f"line {number}: {len(cells)} values; the columns are {', '.join(columns)}"
            )
        record = dict(zip(columns, cells, strict=False))
        if not record.get("code") or not record.get("kind"):
            raise Refusal(f"line {number}: code and kind are required")
        if record["kind"].lower() not in ("firm", "client"):
            raise Refusal(f"line {number}: kind must be firm or client, not {record['kind']!r}")
        rows.append((number, record))
    return rows


@env_app.command("import")
def env_import(
    ctx: typer.Context,
    source: Annotated[
        Path,
        typer.Argument(
            help="CSV file (or - for stdin) with columns code,name,kind[,update][,firm]; "
            "an optional header row names the columns."
        ),
    ],
    firm: Annotated[
        str | None,
        typer.Option("--firm", help="Managing firm of client rows that name none."),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Print every row's outcome.")
    ] = False,
    json_mode: JsonOption = False,
) -> None:
    """Create many environments at once, in one transaction (idempotent: existing ones are
    left as they are). Firm rows are created before client rows."""
    with reporting(json_mode):
        rows = _csv_rows(path_or_stdin(source))
    rows.sort(key=lambda r: r[1]["kind"].lower() != "firm")
    with unit_of_work(ctx, json_mode) as admin:
        done: list[Done] = []
        for number, row in rows:
            kind = Kind(row["kind"].lower())
            row_firm = row.get("firm") or (firm if kind is Kind.CLIENT else None)
            try:
                outcome = admin.create_environment(
                    row["code"],
                    row.get("name", ""),
                    kind,
                    row.get("update") or None,
                    None,
                    row_firm,
                )
                done.append(Done(_code(row["code"]), outcome))
                if not outcome.changed and row_firm:
                    done.append(Done(_code(row["code"]), admin.set_firm(row["code"], row_firm)))
            except DomainError as exc:
                exc.message = f"line {number}: {exc.message}"
                raise
    created = sum(1 for d in done if d.outcome.changed and "created" in d.outcome.message)
    if json_mode:
        out.emit_json(out.outcomes_json(done, rows=len(rows), created=created))
        return
    if verbose or len(done) <= 20:
        out.show_outcomes(done, False)
    out.write(
        f"{len(rows)} row(s): {created} environment(s) created, "
        f"{len(rows) - created} already present"
    )


# ----------------------------------------------------------------------------- users


@users_app.command("add")
def users_add(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    logins: Annotated[list[str], typer.Argument(help="Logins of existing accounts.")],
    json_mode: JsonOption = False,
) -> None:
    """Make accounts users of an environment."""
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(_code(code), admin.add_user(code, login)) for login in logins]
    out.show_outcomes(done, json_mode)


@users_app.command("list")
def users_list(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    json_mode: JsonOption = False,
) -> None:
    """List an environment's users: login, name, portal access, functions (direct and
    through groups)."""
    from koppel.server.domain import lookups

    with unit_of_work(ctx, json_mode) as admin:
        env = lookups.environment(admin.repo, code)
        members = admin.repo.members([env.id])
        functions = admin.repo.functions_of([m.membership.id for m in members])
    rows = [(m, sorted(f.value for f in functions.get(m.membership.id, set()))) for m in members]
    if json_mode:
        out.emit_json(
            {
                "environment": env.code,
                "users": [
                    {
                        "login": m.account.login,
                        "name": m.account.display_name,
                        "portal": m.membership.portal_access,
                        "disabled": m.account.disabled,
                        "functions": fs,
                    }
                    for m, fs in rows
                ],
            }
        )
        return
    out.table(
        ["login", "name", "portal", "functions"],
        [
            (
                m.account.login,
                m.account.display_name,
                m.membership.portal_access,
                [f.rsplit("/", 1)[-1] for f in fs],
            )
            for m, fs in rows
        ],
        f"users of {env.code}",
    )


def _authorize_users(
    ctx: typer.Context,
    code: str,
    logins: list[str],
    functions: list[str] | None,
    granted: bool,
    json_mode: bool,
) -> None:
    chosen = parse_functions(functions)
    with unit_of_work(ctx, json_mode) as admin:
        done = [
            Done(_code(code), admin.authorize_user(code, login, chosen, granted))
            for login in logins
        ]
    out.show_outcomes(done, json_mode)


@users_app.command(
    "authorize", help="Authorize users of an environment for functions.\n\n" + FUNCTIONS_DOC
)
def users_authorize(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    logins: Annotated[list[str], typer.Argument(help="Logins of users of the environment.")],
    function: Annotated[
        list[str] | None, typer.Option("--function", "-f", help=FUNCTION_HELP)
    ] = None,
    json_mode: JsonOption = False,
) -> None:
    _authorize_users(ctx, code, logins, function, True, json_mode)


@users_app.command(
    "unauthorize", help="Withdraw functions granted directly to users.\n\n" + FUNCTIONS_DOC
)
def users_unauthorize(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    logins: Annotated[list[str], typer.Argument(help="Logins of users of the environment.")],
    function: Annotated[
        list[str] | None, typer.Option("--function", "-f", help=FUNCTION_HELP)
    ] = None,
    json_mode: JsonOption = False,
) -> None:
    _authorize_users(ctx, code, logins, function, False, json_mode)


# ----------------------------------------------------------------------------- groups


@groups_app.command("create")
def groups_create(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    name: Annotated[str, typer.Argument(help="Group name.")],
    json_mode: JsonOption = False,
) -> None:
    """Create a group in an environment."""
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(_code(code), admin.create_group(code, name))]
    out.show_outcomes(done, json_mode)


@groups_app.command("list")
def groups_list(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    json_mode: JsonOption = False,
) -> None:
    """List an environment's groups with their functions and members."""
    from koppel.server.domain import lookups

    with unit_of_work(ctx, json_mode) as admin:
        repo = admin.repo
        env = lookups.environment(repo, code)
        auths = repo.authorizations(env.id)
        login_of = {m.membership.id: m.account.login for m in repo.members([env.id])}
        rows = [
            (
                g.name,
                sorted(a.function.value for a in auths if a.group_id == g.id),
                sorted(login_of[i] for i in repo.group_member_ids(g.id) if i in login_of),
            )
            for g in repo.groups(env.id)
        ]
    if json_mode:
        out.emit_json(
            {
                "environment": env.code,
                "groups": [{"name": n, "functions": f, "members": m} for n, f, m in rows],
            }
        )
        return
    out.table(["group", "functions", "members"], rows, f"groups of {env.code}")


@groups_app.command("authorize", help="Grant functions to a group.\n\n" + FUNCTIONS_DOC)
def groups_authorize(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    name: Annotated[str, typer.Argument(help="Group name.")],
    function: Annotated[
        list[str] | None, typer.Option("--function", "-f", help=FUNCTION_HELP)
    ] = None,
    json_mode: JsonOption = False,
) -> None:
    chosen = parse_functions(function)
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(_code(code), admin.authorize_group(code, name, chosen, True))]
    out.show_outcomes(done, json_mode)


@groups_app.command("unauthorize", help="Withdraw functions from a group.\n\n" + FUNCTIONS_DOC)
def groups_unauthorize(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    name: Annotated[str, typer.Argument(help="Group name.")],
    function: Annotated[
        list[str] | None, typer.Option("--function", "-f", help=FUNCTION_HELP)
    ] = None,
    json_mode: JsonOption = False,
) -> None:
    chosen = parse_functions(function)
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(_code(code), admin.authorize_group(code, name, chosen, False))]
    out.show_outcomes(done, json_mode)


@groups_app.command("add-member")
def groups_add_member(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    name: Annotated[str, typer.Argument(help="Group name.")],
    logins: Annotated[list[str], typer.Argument(help="Logins of users of the environment.")],
    json_mode: JsonOption = False,
) -> None:
    """Put users in a group."""
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(_code(code), admin.set_group_member(code, name, x, True)) for x in logins]
    out.show_outcomes(done, json_mode)


@groups_app.command("remove-member")
def groups_remove_member(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    name: Annotated[str, typer.Argument(help="Group name.")],
    logins: Annotated[list[str], typer.Argument(help="Logins of users of the environment.")],
    json_mode: JsonOption = False,
) -> None:
    """Take users out of a group."""
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(_code(code), admin.set_group_member(code, name, x, False)) for x in logins]
    out.show_outcomes(done, json_mode)


# ----------------------------------------------------------------------------- portal


def _portal(
    ctx: typer.Context,
    code: str,
    logins: list[str] | None,
    everyone: bool,
    granted: bool,
    json_mode: bool,
) -> None:
    if bool(logins) == everyone:
        raise typer.BadParameter("name the users (LOGIN...) or give --all, not both")
    with unit_of_work(ctx, json_mode) as admin:
        chosen = admin.logins(code) if everyone else list(logins or [])
        done = [Done(_code(code), admin.set_portal_access(code, x, granted)) for x in chosen]
    if not done and not json_mode:
        out.write(f"{_code(code)} has no users yet; add them with `koppel-admin users add`.")
        return
    out.show_outcomes(done, json_mode)


@portal_app.command("grant")
def portal_grant(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    logins: Annotated[list[str] | None, typer.Argument(help="Logins of users.")] = None,
    everyone: Annotated[bool, typer.Option("--all", help="Every user of the environment.")] = False,
    json_mode: JsonOption = False,
) -> None:
    """Give users access to the environment's portal (InSite)."""
    _portal(ctx, code, logins, everyone, True, json_mode)


@portal_app.command("revoke")
def portal_revoke(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    logins: Annotated[list[str] | None, typer.Argument(help="Logins of users.")] = None,
    everyone: Annotated[bool, typer.Option("--all", help="Every user of the environment.")] = False,
    json_mode: JsonOption = False,
) -> None:
    """Withdraw users' access to the environment's portal."""
    _portal(ctx, code, logins, everyone, False, json_mode)


# ----------------------------------------------------------------------------- connectors

ConnectorArg = Annotated[
    ConnectorName,
    typer.Argument(help="communication-center (default) or temporary-office-access."),
]


@connector_app.command("block")
def connector_block(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    name: ConnectorArg = ConnectorName.COMMUNICATION_CENTER,
    json_mode: JsonOption = False,
) -> None:
    """Block an app connector: linked agents lose access to the environment."""
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(_code(code), admin.set_connector_blocked(code, name, True))]
    out.show_outcomes(done, json_mode)


@connector_app.command("unblock")
def connector_unblock(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    name: ConnectorArg = ConnectorName.COMMUNICATION_CENTER,
    json_mode: JsonOption = False,
) -> None:
    """Open an app connector (each starts blocked)."""
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(_code(code), admin.set_connector_blocked(code, name, False))]
    out.show_outcomes(done, json_mode)


@connector_app.command("list")
def connector_list(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    json_mode: JsonOption = False,
) -> None:
    """List an environment's app connectors and whether each is blocked."""
    from koppel.server.domain import lookups

    with unit_of_work(ctx, json_mode) as admin:
        env = lookups.environment(admin.repo, code)
        found = sorted(admin.repo.connectors([env.id]), key=lambda c: c.name.value)
    if json_mode:
        out.emit_json(
            {
                "environment": env.code,
                "connectors": [{"name": c.name.value, "blocked": c.blocked} for c in found],
            }
        )
        return
    out.table(
        ["connector", "state"],
        [(c.name.value, "blocked" if c.blocked else "open") for c in found],
        f"connectors of {env.code}",
    )


# ----------------------------------------------------------------------------- tokens


@tokens_app.command("list")
def tokens_list(
    ctx: typer.Context,
    code: Annotated[str | None, typer.Argument(help="Environment code; default: all.")] = None,
    user: Annotated[str | None, typer.Option("--user", help="Only this login's tokens.")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Include revoked tokens.")] = False,
    json_mode: JsonOption = False,
) -> None:
    """List user tokens: id, environment, login, workstation, created, last used, revoked."""
    with unit_of_work(ctx, json_mode) as admin:
        views = admin.list_tokens(code, user, everything)
    if json_mode:
        out.emit_json(
            {
                "tokens": [
                    {
                        "id": v.token.public_id,
                        "environment": v.environment.code,
                        "login": v.account.login,
                        "connector": v.token.connector.value,
                        "workstation_id": v.token.workstation_id,
                        "workstation_name": v.token.workstation_name,
                        "created": v.token.created_at,
                        "expires": v.token.expires_at,
                        "last_used": v.token.last_used_at,
                        "revoked": v.token.revoked_at,
                        "revoked_reason": (
                            v.token.revoked_reason.value if v.token.revoked_reason else None
                        ),
                    }
                    for v in views
                ]
            }
        )
        return
    out.table(
        ["token", "env", "login", "workstation", "created", "last used", "revoked"],
        [
            (
                v.token.public_id,
                v.environment.code,
                v.account.login,
                f"{v.token.workstation_name} ({v.token.workstation_id})",
                v.token.created_at,
                v.token.last_used_at,
                f"{out.when(v.token.revoked_at)} {v.token.revoked_reason.value}"
                if v.token.revoked_at and v.token.revoked_reason
                else None,
            )
            for v in views
        ],
        "tokens",
    )


@tokens_app.command("revoke")
def tokens_revoke(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    token_ids: Annotated[
        list[str] | None, typer.Argument(help="Token ids (see `tokens list`).")
    ] = None,
    user: Annotated[str | None, typer.Option("--user", help="Every token of this login.")] = None,
    workstation: Annotated[
        str | None,
        typer.Option("--workstation", help="Every token of this workstation (id or name)."),
    ] = None,
    all_tokens: Annotated[
        bool, typer.Option("--all-tokens", help="Every active token of the environment.")
    ] = False,
    json_mode: JsonOption = False,
) -> None:
    """Revoke user tokens of an environment (a lost laptop): that workstation loses access
    at once. Select by token id, --user and/or --workstation, or --all-tokens."""
    if not (token_ids or user or workstation or all_tokens):
        with reporting(json_mode):
            raise Refusal(
                "say which tokens to revoke: TOKEN_ID..., --user LOGIN or --workstation W "
                "(or --all-tokens for every token of the environment)",
                EXIT_USAGE,
            )
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(_code(code), admin.revoke_tokens(code, user, token_ids or (), workstation))]
    out.show_outcomes(done, json_mode)


# ----------------------------------------------------------------------------- setup


def _show_setup(done: list[Done], codes: list[str], json_mode: bool) -> None:
    hint = "koppel-admin check " + " ".join(codes)
    if json_mode:
        out.emit_json(out.outcomes_json(done, check=hint))
        return
    lines: list[str] = []
    current: str | None = None
    for d in done:
        if d.environment != current:
            current = d.environment
            lines.append(f"{current}")
        lines += out.outcome_lines([d], indent="  ")
    changes = sum(1 for d in done if d.outcome.changed)
    lines.append(
        f"{changes} change(s) made." if changes else "Nothing to change: every step was done."
    )
    lines.append(
        f"Check the result with: {hint if len(hint) < 200 else 'koppel-admin check --all'}"
    )
    out.write("\n".join(lines))


@setup_app.command("firm")
def setup_firm_command(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="The firm's environment code.")],
    api_url: Annotated[
        str | None,
        typer.Option("--api-url", help="Address agents use; default: the server's public URL."),
    ] = None,
    main_site: Annotated[
        str | None,
        typer.Option("--main-site", help="Portal address; default: this server's portal."),
    ] = None,
    json_mode: JsonOption = False,
) -> None:
    """Apply the firm set-up: API URL, own portal, portal access and the functions to save
    settings and the installation for every user, the Communication Center connector
    opened, the main site recorded. Add the firm's users first (`users add`)."""
    from koppel.server.domain.setup import setup_firm

    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(_code(code), o) for o in setup_firm(admin, code, api_url, main_site)]
    _show_setup(done, [_code(code)], json_mode)


@setup_app.command("client")
def setup_client_command(
    ctx: typer.Context,
    codes: Annotated[list[str], typer.Argument(help="Client environment codes.")],
    firm: Annotated[str, typer.Option("--firm", help="The managing firm's environment code.")],
    user: Annotated[
        list[str],
        typer.Option(
            "--user",
            help="Firm employee who uses the agent with these clients; repeat (or "
            "comma-separate) for several. Each must be a user of the firm environment.",
        ),
    ],
    api_url: Annotated[
        str | None,
        typer.Option("--api-url", help="Address agents use; default: the server's public URL."),
    ] = None,
    main_site: Annotated[
        str | None,
        typer.Option(
            "--main-site",
            help="Main site; default: the client's own portal, else the firm's main site.",
        ),
    ] = None,
    json_mode: JsonOption = False,
) -> None:
    """Apply the client set-up to one or more client environments, all in one transaction:
    API URL, managing firm, the employees added and authorized for My files and Save
    settings, the Communication Center connector opened, the main site recorded."""
    from koppel.server.domain.setup import setup_client

    logins = split_logins(user)
    with unit_of_work(ctx, json_mode) as admin:
        done = [
            Done(_code(code), o)
            for code in codes
            for o in setup_client(admin, code, firm, logins, api_url, main_site)
        ]
    _show_setup(done, [_code(c) for c in codes], json_mode)


# ----------------------------------------------------------------------------- check


@app.command("check")
def check(
    ctx: typer.Context,
    codes: Annotated[list[str] | None, typer.Argument(help="Environment codes.")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Every environment.")] = False,
    missing_only: Annotated[
        bool, typer.Option("--missing-only", help="Print only incomplete environments.")
    ] = False,
    json_mode: JsonOption = False,
) -> None:
    """Check the set-up procedure of environments: every step done (✓) or missing (✗),
    with the exact command that fixes a missing one. Exits 3 when anything is missing."""
    from koppel.server.domain.procedure import check_environments

    if bool(codes) == everything:
        raise typer.BadParameter("name environments (ENV...) or give --all, not both")
    with unit_of_work(ctx, json_mode) as admin:
        checks = check_environments(admin.repo, admin.policy, None if everything else codes)
    if json_mode:
        out.emit_json(out.check_json(checks, missing_only))
    else:
        out.write(out.check_text(checks, missing_only))
    if not all(c.complete for c in checks):
        raise typer.Exit(EXIT_INCOMPLETE)


# ----------------------------------------------------------------------------- audit


@app.command("audit")
def audit(
    ctx: typer.Context,
    env: Annotated[str | None, typer.Option("--env", help="Only this environment.")] = None,
    actor: Annotated[
        str | None, typer.Option("--actor", help="Only this actor, e.g. cli:root or anna.")
    ] = None,
    action: Annotated[
        str | None,
        typer.Option("--action", help="Only actions starting with this, e.g. connector."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 50,
    json_mode: JsonOption = False,
) -> None:
    """Show the audit log, newest first: who changed what, when, in which environment."""
    with unit_of_work(ctx, json_mode) as admin:
        entries = admin.repo.audit_entries(
            _code(env) if env else None, actor, action.rstrip(".") if action else None, limit
        )
    if json_mode:
        out.emit_json(
            {
                "entries": [
                    {
                        "at": e.at,
                        "actor": e.actor,
                        "action": e.action,
                        "environment": e.environment,
                        "detail": e.detail,
                    }
                    for e in entries
                ]
            }
        )
        return
    import json

    out.table(
        ["at", "actor", "action", "env", "detail"],
        [
            (
                e.at,
                e.actor,
                e.action,
                e.environment,
                json.dumps(e.detail, ensure_ascii=False, default=str) if e.detail else None,
            )
            for e in entries
        ],
        "audit entries",
    )


# ----------------------------------------------------------------------------- db


def _masked(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("://", 1)[0] + "://..."


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context, json_mode: JsonOption = False) -> None:
    """Apply the migrations the database lacks (other commands do this at start unless
    KOPPEL_AUTO_MIGRATE=false)."""
    from koppel.server.adapters.db.migrate import revisions

    state: State = state_of(ctx)
    with reporting(json_mode):
        svc = state.services(migrate=False)
        before, head = revisions(svc.database.engine)
        svc.database.upgrade()
        after, _ = revisions(svc.database.engine)
    if json_mode:
        out.emit_json({"changed": before != after, "from": before, "to": after, "head": head})
        return
    out.show_outcomes(
        [
            Done(
                None,
                _outcome(
                    before != after,
                    f"database migrated from {before or 'empty'} to {after}"
                    if before != after
                    else f"database already at the newest revision {after}",
                ),
            )
        ],
        False,
    )


def _outcome(changed: bool, message: str) -> Any:
    from koppel.server.domain.administration import Outcome

    return Outcome(changed, message)


@db_app.command("status")
def db_status(ctx: typer.Context, json_mode: JsonOption = False) -> None:
    """Show the database address and whether migrations are pending (changes nothing)."""
    from koppel.server.adapters.db.migrate import revisions

    state: State = state_of(ctx)
    with reporting(json_mode):
        svc = state.services(migrate=False)
        current, head = revisions(svc.database.engine)
    data = {
        "url": _masked(svc.database.url),
        "revision": current,
        "head": head,
        "pending": current != head,
    }
    if json_mode:
        out.emit_json(data)
        return
    out.write(
        f"database  {data['url']}\n"
        f"revision  {current or '(empty)'}\n"
        f"newest    {head}\n"
        + (
            "pending   yes: run `koppel-admin db upgrade`"
            if current != head
            else "pending   no: up to date"
        )
    )


# ----------------------------------------------------------------------------- installation


@installation_app.command("build")
def installation_build(
    ctx: typer.Context,
    update: Annotated[
        str | None,
        typer.Option("--update", help="Update of the agent; default: the server's current."),
    ] = None,
    json_mode: JsonOption = False,
) -> None:
    """Build (or find) the agent wheel of an update, as "Save installation" hands it out,
    and print its path."""
    from koppel.protocol.updates import Update

    state: State = state_of(ctx)
    with reporting(json_mode):
        svc = state.services()
        try:
            wanted = Update.parse(update) if update else svc.policy.current_update
        except ValueError as exc:
            raise Refusal(str(exc)) from None
        if wanted not in svc.policy.supported_updates:
            hosted = " and ".join(str(u) for u in svc.policy.supported_updates)
            raise Refusal(
                f"this server hosts updates {hosted}; update {wanted} is not one of them",
                code="update_unsupported",
            )
        path = svc.packages.wheel_for(wanted)
    if json_mode:
        out.emit_json({"update": str(wanted), "path": str(path)})
        return
    out.write(str(path))


def main() -> None:
    """Entry point of ``koppel-admin``."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")
    app()
