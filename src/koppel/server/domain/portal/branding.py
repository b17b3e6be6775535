"""A firm's branding of its portal: its logo and colour, shown with its name on every
page of its environments and of its clients' environments.

The logo is checked by its first bytes (PNG, JPEG, WebP only: an SVG can carry script,
and a browser would run it on the portal's own origin). The colour is the header's
background; its text is black or white, whichever keeps the contrast at 4.5:1 or more
(WCAG 2.1 AA, what axe-core checks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from koppel.protocol.errors import ErrorCode
from koppel.server.domain import lookups
from koppel.server.domain.audit import record
from koppel.server.domain.errors import DomainError
from koppel.server.domain.model import Environment, Kind
from koppel.server.domain.policy import Policy
from koppel.server.domain.repository import Repository

MAX_LOGO_BYTES = 256 * 1024
_COLOR = re.compile(r"^#?([0-9a-fA-F]{6})$")
_DARK_TEXT, _LIGHT_TEXT = "#000000", "#ffffff"


@dataclass
class Brand:
    """One environment's logo and colour (either may be absent)."""

    environment_id: int
    color: str | None = None
    logo: bytes | None = None
    logo_type: str | None = None  # the media type, from the logo's first bytes
    updated_at: datetime | None = None


class BrandRepository(Protocol):
    """Where brands are kept, one per environment."""

    def brand(self, environment_id: int, *, with_logo: bool = True) -> Brand | None:
        """The environment's brand, if it has one (without the logo's bytes unless
        ``with_logo``: every page shows the colour, only the logo route the image)."""
        ...

    def save_brand(self, brand: Brand) -> None:
        """Store the brand (replacing the environment's earlier one)."""
        ...


class LogoRefused(ValueError):
    """A logo file that is not a PNG, JPEG or WebP image of at most 256 KB."""


def logo_type(data: bytes) -> str:
    """The media type of a logo, from its magic bytes; ``LogoRefused`` for anything else."""
    if len(data) > MAX_LOGO_BYTES:
        raise LogoRefused(  # untranslated: said by koppel-admin only, which speaks English
            f"the logo is {len(data) // 1024} KB; the limit is {MAX_LOGO_BYTES // 1024} KB. "
            "Save it smaller (a logo of 400 pixels wide is plenty)."
        )
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    head = data[:512].lstrip().lower()
    if b"<svg" in head or head.startswith(b"<?xml"):
        raise LogoRefused(  # untranslated: said by koppel-admin only, which speaks English
            "SVG logos are not accepted (an SVG can hold script that would run on the "
            "portal); export the logo as PNG, JPEG or WebP."
        )
    raise LogoRefused(  # untranslated: said by koppel-admin only, which speaks English
        "the logo is not a PNG, JPEG or WebP image; export it as one of those."
    )


def parse_color(text: str) -> str:
    """``#RRGGBB`` (the ``#`` optional, any case) as ``#rrggbb``; ``ValueError`` otherwise."""
    match = _COLOR.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a colour; write it as #RRGGBB, e.g. #1f5fa8")
    return f"#{match.group(1).lower()}"


def _luminance(color: str) -> float:
    # WCAG 2.1 relative luminance of an sRGB colour.
    channels = []
    for index in (1, 3, 5):
        value = int(color[index : index + 2], 16) / 255
        channels.append(value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4)
    red, green, blue = channels
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(first: str, second: str) -> float:
    """The WCAG contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    light, dark = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def text_color(background: str) -> str:
    """Black or white text on ``background``: whichever contrasts more (always ≥ 4.5:1)."""
    dark, light = contrast(background, _DARK_TEXT), contrast(background, _LIGHT_TEXT)
    return _DARK_TEXT if dark >= light else _LIGHT_TEXT


def branded_environment(repo: Repository, environment: Environment) -> Environment:
    """Whose name and brand a portal shows: a client environment's firm, else itself."""
    if environment.kind is Kind.CLIENT and environment.firm_id is not None:
        firm = repo.environment_by_id(environment.firm_id)
        if firm is not None:
            return firm
    return environment


@dataclass(frozen=True)
class BrandRequest:
    """What ``koppel-admin portal brand`` asks to change (None: leave as it is)."""

    logo: bytes | None = None
    clear_logo: bool = False
    color: str | None = None  # already ``parse_color``-ed
    language: str | None = None  # already a supported language
    time_zone: str | None = None  # already a known zone


@dataclass(frozen=True)
class Branded:
    """The environment's branding after the command, and whether anything changed."""

    environment: Environment
    brand: Brand | None
    changed: list[str]


def brand_portal(
    repo: Repository, brands: BrandRepository, policy: Policy, actor: str, code: str,
    asked: BrandRequest,
) -> Branded:  # fmt: skip
    """Set an environment's logo, colour, default language and time zone (one change, or
    a refusal that changes nothing). A client environment managed by a firm shows its
    firm's logo and colour, so those are refused there; its language and zone are its own."""
    env = lookups.environment(repo, code)
    firm = branded_environment(repo, env)
    if firm.id != env.id and (asked.logo is not None or asked.clear_logo or asked.color):
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            f"{env.code} is a client of {firm.code}; its portal pages show {firm.code}'s "
            f"name, logo and colour. Brand {firm.code} instead "
            f"(`koppel-admin portal brand {firm.code} ...`).",
            environment=env.code,
        )
    logo_media = logo_type(asked.logo) if asked.logo is not None else None
    changed: list[str] = []
    if asked.language is not None and asked.language != env.language:
        env.language = asked.language
        changed.append("language")
    if asked.time_zone is not None and asked.time_zone != env.time_zone:
        env.time_zone = asked.time_zone
        changed.append("time_zone")
    if changed:
        repo.save_environment(env)
    brand = brands.brand(env.id) or Brand(environment_id=env.id)
    if asked.color is not None and asked.color != brand.color:
        brand.color = asked.color
        changed.append("color")
    if asked.logo is not None and asked.logo != brand.logo:
        brand.logo, brand.logo_type = asked.logo, logo_media
        changed.append("logo")
    elif asked.clear_logo and brand.logo is not None:
        brand.logo = brand.logo_type = None
        changed.append("logo")
    if {"color", "logo"} & set(changed):
        brand.updated_at = policy.clock()
        brands.save_brand(brand)
    if changed:
        detail: dict[str, object] = {
            name: getattr(env, name) for name in ("language", "time_zone") if name in changed
        }
        if "color" in changed:
            detail["color"] = brand.color
        if "logo" in changed:
            detail["logo"] = f"{brand.logo_type}, {len(brand.logo)} bytes" if brand.logo else None
        record(repo, policy, actor, "portal.brand", env.code, **detail)
    stored = brands.brand(env.id, with_logo=True)
    return Branded(env, stored, changed)
