"""Compiles the translations (``.po`` → ``.mo``) into the wheel when it is built."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CatalogsHook(BuildHookInterface):  # type: ignore[type-arg]
    """The ``.mo`` files are generated, not kept in git: every build makes them."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for po in sorted(Path(self.root, "src/koppel/locale").glob("*/LC_MESSAGES/*.po")):
            with po.open("rb") as file:
                catalog = read_po(file)
            mo = po.with_suffix(".mo")
            with mo.open("wb") as file:
                write_mo(file, catalog, use_fuzzy=False)
            build_data["artifacts"].append(mo.relative_to(self.root).as_posix())
