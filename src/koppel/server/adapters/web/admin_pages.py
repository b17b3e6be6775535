"""Administration pages, for users holding General/Management/App connector: the procedure
checklist with a button for each step a click can do, user tokens per connector with
revoke, a lost workstation revoked in every administered environment at once, the file
extensions each environment accepts, and the audit log. Thin: the rules
are in ``domain/console.py`` and ``domain/extensions.py``, the changes are ``Admin``
operations audited with the signed-in login as the actor."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request, Response

from koppel.i18n import gettext as _
from koppel.protocol.errors import ErrorCode
from koppel.server.adapters.http.errors import STATUS
from koppel.server.adapters.http.params import page_number
from koppel.server.adapters.web import context as ctx
from koppel.server.adapters.web.pages import form_date, redirect
from koppel.server.adapters.web.templating import render
from koppel.server.domain.errors import DomainError
from koppel.server.domain.portal import console
from koppel.server.domain.setup.administration import Admin
from koppel.server.domain.setup.procedure import check_environments
from koppel.server.domain.transfer.extensions import DEFAULT_EXTENSIONS
from koppel.server.domain.unit_of_work import UnitOfWork

router = APIRouter()

# A notice is a sentence of outcomes; a longer one (many users) is cut.
_NOTICE_LIMIT = 400


def _admin(user: ctx.PortalUser, uow: UnitOfWork) -> Admin:
    """Admin operations acting as the signed-in user, with events for their agents."""
    return Admin.of(uow, user.svc.policy, user.account.login)


def _notice(request: Request) -> str | None:
    # Shown as escaped text, never as markup.
    text = request.query_params.get("done", "").strip()
    return text[:_NOTICE_LIMIT] or None


def _after(url: str, message: str, anchor: str = "") -> Response:
    if len(message) > _NOTICE_LIMIT:
        message = message[: _NOTICE_LIMIT - 1] + "…"
    return redirect(f"{url}?{urlencode({'done': message})}{anchor}")


def _administered(user: ctx.PortalUser) -> list[str]:
    codes = [shown.environment.code for shown in user.administers]
    if not codes:
        raise DomainError(
            ErrorCode.NOT_FOUND,
            _(
                "You administer no environment on the portal of {portal}; "
                "administering needs General/Management/App connector."
            ).format(portal=user.portal.name),
        )
    return codes


@router.get("/portal/{code}/admin", name="admin_checklist")
def checklist(request: Request, user: ctx.SignedIn) -> Response:
    """Every administered environment with every step of its procedure, done or missing,
    the fix command, and a button where a click can do the step."""
    codes = _administered(user)
    with user.transaction() as uow:
        checks = check_environments(uow.core, user.svc.policy, codes, catalogs=uow.templates)
        offers = console.offers(uow.core, user.svc.policy, checks)
    # The portal's own environment first, then its clients, as on the home page.
    checks.sort(key=lambda check: codes.index(check.code))
    return render(
        request,
        "admin.html",
        {"user": user, "checks": checks, "offers": offers, "notice": _notice(request)},
    )


@router.post("/portal/{code}/admin/{env}/steps/{step}")
def do_step(user: ctx.CsrfChecked, env: str, step: str) -> Response:
    """Do one missing step, then back to the checklist."""
    with user.transaction() as uow:
        found = console.require_administrator(uow.core, user.portal, user.account, env)
        outcomes = console.apply_step(_admin(user, uow), found.code, step)
    return _after(user.path("admin"), console.summary(outcomes), f"#env-{found.code}")


@router.get("/portal/{code}/admin/{env}/tokens", name="admin_tokens")
def tokens(request: Request, user: ctx.SignedIn, env: str, show: str = "active") -> Response:
    """User tokens of one environment per connector; active only, or all."""
    everything = show == "all"
    with user.transaction() as uow:
        found = console.require_administrator(uow.core, user.portal, user.account, env)
        views = _admin(user, uow).list_tokens(found.code, include_revoked=everything)
    groups = console.tokens_by_connector(views, user.svc.policy.clock())
    # Whose tokens "revoke all of a user" can choose: those with an active one.
    logins = sorted({row.view.account.login for _, rows in groups for row in rows if row.active})
    return render(
        request,
        "admin_tokens.html",
        {
            "user": user,
            "env": found,
            "groups": groups,
            "logins": logins,
            "everything": everything,
            "notice": _notice(request),
        },
    )


@router.post("/portal/{code}/admin/{env}/tokens/revoke-user")
def revoke_user(user: ctx.CsrfChecked, env: str, login: Annotated[str, Form()] = "") -> Response:
    """Revoke every active token of one user in this environment."""
    with user.transaction() as uow:
        found = console.require_administrator(uow.core, user.portal, user.account, env)
        outcome = console.revoke_user_tokens(_admin(user, uow), found.code, login)
    return _after(user.path("admin", found.code, "tokens"), outcome.message)


@router.post("/portal/{code}/admin/{env}/tokens/{token}/revoke")
def revoke_token(user: ctx.CsrfChecked, env: str, token: str) -> Response:
    """Revoke one token: its workstation loses access at its next request."""
    with user.transaction() as uow:
        found = console.require_administrator(uow.core, user.portal, user.account, env)
        outcome = _admin(user, uow).revoke_tokens(found.code, token_ids=[token])
    return _after(user.path("admin", found.code, "tokens"), outcome.message)


@router.get("/portal/{code}/admin/lost-workstation", name="admin_lost_workstation")
def lost_workstation(
    request: Request, user: ctx.SignedIn, workstation: str = "", login: str = ""
) -> Response:
    """A lost workstation: the form for its name (or id) and, once given, what revoking it
    in every environment the user administers would end, with the button that does it."""
    codes = _administered(user)
    preview, problem = None, None
    if workstation.strip():
        with user.transaction() as uow:
            try:
                preview = _admin(user, uow).revoke_workstation(
                    workstation, login.strip() or None, within=codes, dry_run=True
                )
            except DomainError as exc:
                problem = exc
    return render(
        request,
        "admin_lost_workstation.html",
        {
            "user": user,
            "workstation": workstation.strip(),
            "login": login.strip(),
            "preview": preview,
            "problem": problem,
            "notice": _notice(request),
        },
        STATUS[problem.code] if problem else 200,
    )


@router.post("/portal/{code}/admin/lost-workstation")
def revoke_lost_workstation(
    user: ctx.CsrfChecked,
    workstation: Annotated[str, Form()] = "",
    login: Annotated[str, Form()] = "",
) -> Response:
    """Revoke the workstation in every environment the user administers (audited once per
    environment); a name with no token there is refused and nothing changes."""
    codes = _administered(user)
    with user.transaction() as uow:
        done = _admin(user, uow).revoke_workstation(
            workstation, login.strip() or None, within=codes
        )
    return _after(user.path("admin", "lost-workstation"), done.message)


@router.get("/portal/{code}/admin/{env}/extensions", name="admin_extensions")
def extension_list(request: Request, user: ctx.SignedIn, env: str) -> Response:
    """The file extensions one environment accepts, with remove, allow and reset."""
    with user.transaction() as uow:
        found = console.require_administrator(uow.core, user.portal, user.account, env)
        allowed = _admin(user, uow).extension_allowlist(found.code)
    return render(
        request,
        "admin_extensions.html",
        {
            "user": user,
            "env": found,
            "allowed": allowed,
            "risky": set(allowed.risky),
            "default": sorted(DEFAULT_EXTENSIONS),
            "notice": _notice(request),
        },
    )


@router.post("/portal/{code}/admin/{env}/extensions/allow")
def allow_extensions(
    user: ctx.CsrfChecked, env: str, extensions: Annotated[str, Form()] = ""
) -> Response:
    """Accept files with the extensions typed (separated by spaces or commas)."""
    with user.transaction() as uow:
        found = console.require_administrator(uow.core, user.portal, user.account, env)
        outcome = _admin(user, uow).allow_extensions(found.code, [extensions])
    return _after(user.path("admin", found.code, "extensions"), outcome.message)


@router.post("/portal/{code}/admin/{env}/extensions/remove")
def remove_extension(
    user: ctx.CsrfChecked, env: str, extension: Annotated[str, Form()] = ""
) -> Response:
    """Refuse files with one extension from now on (``.``: names without one)."""
    with user.transaction() as uow:
        found = console.require_administrator(uow.core, user.portal, user.account, env)
        outcome = _admin(user, uow).remove_extensions(found.code, [extension])
    return _after(user.path("admin", found.code, "extensions"), outcome.message)


@router.post("/portal/{code}/admin/{env}/extensions/reset")
def reset_extensions(user: ctx.CsrfChecked, env: str) -> Response:
    """Give the environment the default list again."""
    with user.transaction() as uow:
        found = console.require_administrator(uow.core, user.portal, user.account, env)
        outcome = _admin(user, uow).reset_extensions(found.code)
    return _after(user.path("admin", found.code, "extensions"), outcome.message)


def _detail(detail: dict[str, object]) -> str:
    """An entry's detail as plain text: ``key: value; ...``, lists comma-separated."""
    parts = []
    for key, value in detail.items():
        shown = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
        parts.append(f"{key}: {shown}")
    return "; ".join(parts)


@router.get("/portal/{code}/admin/audit", name="admin_audit")
def audit(
    request: Request,
    user: ctx.SignedIn,
    environment: str = "",
    actor: str = "",
    action: str = "",
    since: str = "",
    until: str = "",
    page: Annotated[int, page_number(console.AUDIT_PAGE_SIZE)] = 1,
) -> Response:
    """The audit log of the administered environments, newest first, filtered, paged."""
    codes = _administered(user)
    wanted = console.AuditFilter(
        environment or None, actor or None, action or None,
        form_date(since, "from"), form_date(until, "to"),
    )  # fmt: skip
    with user.transaction() as uow:
        found = console.audit_page(uow.core, codes, wanted, page)
    filters = {
        k: v
        for k, v in {
            "environment": environment, "actor": actor, "action": action,
            "since": since, "until": until,
        }.items()
        if v
    }  # fmt: skip
    base = user.path("admin", "audit")
    rows = [(entry, _detail(entry.detail)) for entry in found.entries]
    return render(
        request,
        "admin_audit.html",
        {
            "user": user,
            "codes": codes,
            "filters": filters,
            "found": found,
            "rows": rows,
            "previous": f"{base}?{urlencode({**filters, 'page': found.page - 1})}",
            "next": f"{base}?{urlencode({**filters, 'page': found.page + 1})}",
        },
    )
