"""The code stays as the team writes it: ruff clean, formatted, mypy --strict clean, and
its layers import only downward."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True)


# --- layers: imports run downward only (docs: the server's adapters around its domain)
SERVER = ROOT / "src" / "koppel" / "server"
SERVER_PACKAGE = "koppel.server"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT / "src").with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, str | None]]:
    """(module, name) for every import in a file, at any depth (also inside functions
    and ``TYPE_CHECKING`` blocks); relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                found.append((base, alias.name))
                found.append((f"{base}.{alias.name}", None))  # ``from pkg import module``
    return found


def _violations(folder: str, forbidden: tuple[str, ...], *, sql_names: bool = False) -> list[str]:
    """Imports under ``koppel/server/<folder>`` of a module in (or under) ``forbidden``,
    or, with ``sql_names``, of a name starting with ``Sql``."""
    bad: list[str] = []
    for path in sorted((SERVER / folder).rglob("*.py")):
        for module, name in _imports(path):
            hit = any(module == f or module.startswith(f + ".") for f in forbidden)
            if hit or (sql_names and name is not None and name.startswith("Sql")):
                shown = f"{module} import {name}" if name else module
                bad.append(f"{path.relative_to(ROOT)}: {shown}")
    return sorted(set(bad))


DRIVERS = ("sqlalchemy", "alembic", "psycopg", f"{SERVER_PACKAGE}.adapters.db")


def test_routes_pages_and_commands_know_no_database_adapter() -> None:
    """The agent API, the portal and the command lines get a unit of work; only the
    composition root (adapters/assembly.py) knows the SQL adapter."""
    for folder in ("adapters/api", "adapters/web", "adapters/cli"):
        assert _violations(folder, DRIVERS, sql_names=True) == [], folder


def test_api_and_web_do_not_import_each_other() -> None:
    """What both serve lives in adapters/http; app.py assembles them."""
    api, web = f"{SERVER_PACKAGE}.adapters.api", f"{SERVER_PACKAGE}.adapters.web"
    assert _violations("adapters/web", (api,)) == []
    assert _violations("adapters/api", (web,)) == []
    assert _violations("adapters/http", (api, web)) == []


def test_the_domain_imports_no_adapter_or_framework() -> None:
    """The domain defines ports; it imports no adapter, web framework or database."""
    forbidden = (
        f"{SERVER_PACKAGE}.adapters",
        f"{SERVER_PACKAGE}.services",
        f"{SERVER_PACKAGE}.config",
        "fastapi",
        "starlette",
        "sqlalchemy",
        "alembic",
        "psycopg",
        "httpx",
        "jinja2",
    )
    assert _violations("domain", forbidden) == []


def test_the_layer_check_sees_imports() -> None:
    """The checks above would catch a violation (relative and nested imports too)."""
    found = _imports(SERVER / "adapters" / "assembly.py")
    assert (f"{SERVER_PACKAGE}.adapters.db.database", "Database") in found
    assert _violations("adapters", DRIVERS)  # the composition root is under adapters


def test_ruff_lint() -> None:
    result = _run(str(BIN / "ruff"), "check", "src", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format() -> None:
    result = _run(str(BIN / "ruff"), "format", "--check", "src", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict() -> None:
    result = _run(str(BIN / "mypy"))
    assert result.returncode == 0, result.stdout + result.stderr
