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

from koppel.server.domain.model import Environment, Kind
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
        raise LogoRefused(
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
        raise LogoRefused(
            "SVG logos are not accepted (an SVG can hold script that would run on the "
            "portal); export the logo as PNG, JPEG or WebP."
        )
    raise LogoRefused("the logo is not a PNG, JPEG or WebP image; export it as one of those.")


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
