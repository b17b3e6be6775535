"""``koppel-admin env``: environments, the firm's own and one per client."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Annotated, Any

import typer

from koppel.protocol.counts import counted, noun
from koppel.server.adapters.cli.admin import output as out
from koppel.server.adapters.cli.admin.common import (
    JsonOption,
    Refusal,
    env_code,
    path_or_stdin,
    reporting,
    unit_of_work,
)
from koppel.server.adapters.cli.admin.output import Done
from koppel.server.domain.errors import DomainError
from koppel.server.domain.links.update_groups import LeftBehind, left_behind
from koppel.server.domain.model import Kind

app = typer.Typer(help="Environments: the firm's own and one per client.", no_args_is_help=True)


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


@app.command("create")
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
        done = [Done(env_code(code), outcome)]
        if not outcome.changed and firm:
            done.append(Done(env_code(code), admin.set_firm(code, firm)))
    out.show_outcomes(done, json_mode)


@app.command("list")
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


@app.command("show")
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


@app.command("set")
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
        done = [Done(env_code(code), admin.set_environment(code, name, portal))]
    out.show_outcomes(done, json_mode)


@app.command("set-api-url")
def env_set_api_url(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    url: Annotated[str, typer.Argument(help="Address agents use, e.g. https://koppel.example.com")],
    json_mode: JsonOption = False,
) -> None:
    """Record the address agents use for this environment (the "central local environment"
    setting of self-hosted installations)."""
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(env_code(code), admin.set_api_url(code, url))]
    out.show_outcomes(done, json_mode)


@app.command("set-main-site")
def env_set_main_site(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    url: Annotated[str, typer.Argument(help="The portal address users start from.")],
    json_mode: JsonOption = False,
) -> None:
    """Record the portal ("main site") of an environment; for a client without a portal of
    its own, the firm's portal."""
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(env_code(code), admin.set_main_site(code, url))]
    out.show_outcomes(done, json_mode)


@app.command("set-firm")
def env_set_firm(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Client environment code.")],
    firm: Annotated[str, typer.Argument(help="The managing firm's environment code.")],
    json_mode: JsonOption = False,
) -> None:
    """Record which firm manages a client environment."""
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(env_code(code), admin.set_firm(code, firm))]
    out.show_outcomes(done, json_mode)


@app.command("convert")
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
    agents must be of the new update from now on ("Save installation").

    A firm and its clients belong together: an employee's agent works with the environments
    of one update only. Whatever of a firm's group stays on another update is listed, with
    the employees it affects and the command that converts the rest."""
    from koppel.server.domain import lookups

    with unit_of_work(ctx, json_mode) as admin:
        target = to or str(admin.policy.current_update)
        wanted: list[str] = []
        for code in codes:
            env = lookups.environment(admin.repo, code)
            wanted.append(env.code)
            if with_clients and env.kind is Kind.FIRM:
                wanted += [c.code for c in admin.repo.clients_of(env.id)]
        wanted = list(dict.fromkeys(wanted))
        done = [Done(c, admin.convert(c, target)) for c in wanted]
        behind = left_behind(admin.repo, admin.repo.environments(wanted), target)
    converted = [d.environment for d in done if d.outcome.changed]
    note = (
        f"the agents of users must be of update {target} from now on; their links are kept"
        if converted
        else None
    )
    if json_mode:
        out.emit_json(
            out.outcomes_json(
                done, update=target, note=note, left_behind=[b.as_json() for b in behind]
            )
        )
        return
    out.show_outcomes(done, False)
    if note:
        out.write(note)
    for part in behind:
        out.write(_left_behind_text(part))


def _left_behind_text(part: LeftBehind) -> str:
    envs = [f"{e.code} ({e.update})" for e in part.environments]
    shown = ", ".join(envs[:10]) + (f" and {len(envs) - 10} more" if len(envs) > 10 else "")
    lines = [f"Not on update {part.target}: {shown}, of firm {part.firm} and its clients."]
    if part.employees:
        who = ", ".join(part.employees[:10])
        if len(part.employees) > 10:
            who += f" and {len(part.employees) - 10} more"
        lines.append(
            f"  Employees with links on both updates ({who}) cannot use them all: an agent "
            "works with the environments of one update only."
        )
    else:
        lines.append(
            "  An employee's agent works with the environments of one update only: convert "
            "the rest before anyone links environments on both updates."
        )
    lines.append(f"  Convert the rest too: {part.fix}")
    return "\n".join(lines)


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
                raise Refusal(
                    f"line {number}: unknown {noun(len(unknown), 'column')} {', '.join(unknown)}"
                )
            columns = tuple(c.lower() for c in cells)
            continue
        if len(cells) > len(columns):
            raise Refusal(
                f"line {number}: {counted(len(cells), 'value')}; the columns are "
                f"{', '.join(columns)}"
            )
        record = dict(zip(columns, cells, strict=False))
        if not record.get("code") or not record.get("kind"):
            raise Refusal(f"line {number}: code and kind are required")
        if record["kind"].lower() not in ("firm", "client"):
            raise Refusal(f"line {number}: kind must be firm or client, not {record['kind']!r}")
        rows.append((number, record))
    return rows


@app.command("import")
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
                done.append(Done(env_code(row["code"]), outcome))
                if not outcome.changed and row_firm:
                    done.append(Done(env_code(row["code"]), admin.set_firm(row["code"], row_firm)))
            except DomainError as exc:
                exc.message = f"line {number}: {exc.message}"
                if exc.admin_message:
                    exc.admin_message = f"line {number}: {exc.admin_message}"
                raise
    created = sum(1 for d in done if d.outcome.changed and "created" in d.outcome.message)
    if json_mode:
        out.emit_json(out.outcomes_json(done, rows=len(rows), created=created))
        return
    if verbose or len(done) <= 20:
        out.show_outcomes(done, False)
    out.write(
        f"{counted(len(rows), 'row')}: {counted(created, 'environment')} created, "
        f"{len(rows) - created:,} already present"
    )
