"""Rendering portal pages with Jinja2 (autoescaped, templates shipped in the package)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from koppel._version import __version__
from koppel.i18n import format_when, gettext, ngettext
from koppel.protocol.sizes import format_size
from koppel.server.adapters.web.frame import remember_language, speaking_to
from koppel.server.adapters.web.zones import zone_name
from koppel.server.domain.dossier.model import kind_name

TEMPLATES = Path(__file__).parent / "templates"


def _when(value: datetime | None) -> str:
    # Local time in the page's zone (said once, in the footer), as the language writes it.
    return format_when(value)


def _size(value: int | None) -> str:
    # The one size format of every side (protocol.sizes): as Windows Explorer shows it.
    return "—" if value is None else format_size(value)


jinja = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
    # {{ _("...") }} and {% trans %}: the messages of koppel.i18n, in the request's language.
    extensions=["jinja2.ext.i18n"],
)
jinja.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
jinja.policies["ext.i18n.trimmed"] = True
jinja.filters["when"] = _when
jinja.filters["size"] = _size
jinja.filters["kind_name"] = kind_name
jinja.filters["zone_name"] = zone_name
jinja.globals["version"] = __version__


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    """A page, in the language and time zone the frame chooses (``frame.py``).
    ``context`` may hold ``user`` (a PortalUser) for the navigation and the forms' CSRF
    token, or ``portal``/``code`` before sign-in; ``request`` and ``frame`` are always
    available to templates."""
    context = context or {}
    with speaking_to(request, context) as frame:
        page = jinja.get_template(template).render(request=request, frame=frame, **context)
    response = HTMLResponse(page, status_code=status)
    response.headers["Content-Language"] = frame.language
    # The same address answers in another language for another browser or cookie.
    response.headers["Vary"] = "Accept-Language, Cookie"
    remember_language(request, response, frame)
    return response
