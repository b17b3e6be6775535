"""``koppel-admin portal brand``: a firm's logo and colour on its portal, and an
environment's default language and time zone."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from koppel.server.adapters.cli.admin import output as out
from koppel.server.adapters.cli.admin.common import (
    EXIT_NOT_FOUND,
    JsonOption,
    Refusal,
    reporting,
    state_of,
)

# The logo file is not an image the portal accepts (its own exit code: the fix is another
# file, not another command). 6 is the next free code of koppel-admin.
EXIT_LOGO_REFUSED = 6
LOGO_REFUSED = "logo_refused"


def _color(value: str | None) -> str | None:
    from koppel.server.domain.portal.branding import parse_color

    if value is None:
        return None
    try:
        return parse_color(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--color") from None


def _language(value: str | None) -> str | None:
    if value is None:
        return None
    if value.strip().lower() not in ("nl", "fr", "en"):
        raise typer.BadParameter(f"{value!r}: choose nl, fr or en", param_hint="--language")
    return value.strip().lower()


def _time_zone(value: str | None) -> str | None:
    from koppel.i18n import valid_time_zone

    if value is None:
        return None
    if not valid_time_zone(value.strip()):
        raise typer.BadParameter(
            f"{value!r} is not a time zone; write it as Europe/Brussels or Europe/Amsterdam",
            param_hint="--time-zone",
        )
    return value.strip()


def _read_logo(path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise Refusal(f"cannot read the logo {path}: {exc.strerror}", EXIT_NOT_FOUND) from exc


def brand(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code, e.g. F10001.")],
    logo: Annotated[
        Path | None,
        typer.Option("--logo", help="A PNG, JPEG or WebP file of at most 256 KB (no SVG)."),
    ] = None,
    clear_logo: Annotated[bool, typer.Option("--clear-logo", help="Remove the logo.")] = False,
    color: Annotated[
        str | None,
        typer.Option("--color", help="The header's colour, #RRGGBB (text: black or white)."),
    ] = None,
    language: Annotated[
        str | None,
        typer.Option("--language", help="Default language of the portal: nl, fr or en."),
    ] = None,
    time_zone: Annotated[
        str | None,
        typer.Option("--time-zone", help="Default time zone, e.g. Europe/Brussels."),
    ] = None,
    json_mode: JsonOption = False,
) -> None:
    """Show the firm's logo and colour on its portal and its clients' portals, and set the
    language and time zone for users who chose none.

    \b
    Example:
      koppel-admin portal brand F10001 --logo logo.png --color '#1f5fa8' \\
          --language nl --time-zone Europe/Amsterdam
    Without options it shows the current branding. Exit codes: 2 a bad colour, language
    or time zone; 4 an unknown environment or unreadable file; 5 refused; 6 a logo that
    is not a PNG, JPEG or WebP image of at most 256 KB. A refusal changes nothing.
    """
    from koppel.server.domain.portal.branding import BrandRequest, LogoRefused, brand_portal

    if logo is not None and clear_logo:
        raise typer.BadParameter("give either --logo or --clear-logo, not both")
    asked = BrandRequest(
        logo=None, clear_logo=clear_logo, color=_color(color), language=_language(language),
        time_zone=_time_zone(time_zone),
    )  # fmt: skip
    state = state_of(ctx)
    with reporting(json_mode):
        asked = replace(asked, logo=_read_logo(logo))
        svc = state.services()
        try:
            # One transaction: a refused logo leaves the language and colour unchanged too.
            with svc.transaction() as uow:
                done = brand_portal(uow.core, uow.brands, svc.policy, state.actor, code, asked)
        except LogoRefused as exc:
            raise Refusal(f"{exc} Nothing was changed.", EXIT_LOGO_REFUSED, LOGO_REFUSED) from exc
    _show(done, json_mode)


def _show(done: Any, json_mode: bool) -> None:
    from koppel.server.domain.portal.branding import text_color

    env, stored = done.environment, done.brand
    color = stored.color if stored else None
    summary = {
        "environment": env.code,
        "changed": done.changed,
        "color": color,
        "text_color": text_color(color) if color else None,
        "logo": (
            {"type": stored.logo_type, "bytes": len(stored.logo)}
            if stored and stored.logo
            else None
        ),
        "language": env.language,
        "time_zone": env.time_zone,
    }
    if json_mode:
        out.emit_json(summary)
        return
    head = f"{env.code}: " + (
        f"changed {', '.join(done.changed)}" if done.changed else "already as asked"
    )
    logo = done.brand.logo if done.brand else None
    logo_line = f"{done.brand.logo_type}, {len(logo)} bytes" if done.brand and logo else "none"
    lines = [
        head,
        f"  colour:    {color or 'none (Koppel white)'}"
        + (f" (text {summary['text_color']})" if color else ""),
        f"  logo:      {logo_line}",
        f"  language:  {env.language or 'none (the browser decides, else English)'}",
        f"  time zone: {env.time_zone or 'none (Europe/Amsterdam)'}",
    ]
    out.write("\n".join(lines))
