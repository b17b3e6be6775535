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


def test_services_hold_ports_and_import_no_adapter() -> None:
    """``Services`` is what every adapter receives: it names the domain's ports and
    leaves choosing their implementations to the composition root."""
    found = _imports(SERVER / "services.py")
    assert [m for m, _ in found if m.startswith(f"{SERVER_PACKAGE}.adapters")] == []


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


# -- the agent's layers ---------------------------------------------------------------------
# api/ speaks HTTP, local/ keeps what lives on the workstation, the use cases beside them
# combine both, cli/ presents the use cases. The leaves below are shared by all.
AGENT = ROOT / "src" / "koppel" / "agent"
AGENT_LEAVES = frozenset(
    {
        "koppel.agent.errors",
        "koppel.agent.exit_codes",
        "koppel.agent.output",
        "koppel.agent.version",
    }
    | {"koppel.agent.skipped"}
)


def _agent_modules() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for path in sorted(AGENT.rglob("*.py")):
        parts = list(path.relative_to(AGENT.parent.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _agent_imports() -> dict[str, set[str]]:
    """Every agent module and the agent modules it imports (at any depth of the file:
    imports inside functions count too)."""
    modules = _agent_modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
                # `from koppel.agent.local import queue` imports the module queue.
                found.update(
                    f"{node.module}.{alias.name}"
                    for alias in node.names
                    if f"{node.module}.{alias.name}" in modules
                )
        graph[name] = {imported for imported in found if imported in modules and imported != name}
    return graph


def _layer(module: str) -> str:
    if module in AGENT_LEAVES:
        return "leaf"
    for layer in ("api", "local", "cli", "desktop"):
        prefix = f"koppel.agent.{layer}"
        if module == prefix or module.startswith(prefix + "."):
            return layer
    if module == "koppel.agent":
        return "leaf"  # the package: a docstring
    if module == "koppel.agent.__main__":
        return "entry"
    return "use case"


def test_agent_layers_import_only_downward() -> None:
    # What each layer may import besides itself (and every layer the leaves).
    allowed = {
        "leaf": {"leaf"},
        "api": {"leaf", "api"},
        "local": {"leaf", "local"},
        "use case": {"leaf", "api", "local", "use case"},
        "cli": {"leaf", "api", "local", "use case", "cli", "desktop"},
        # The windows present the use cases, as cli/ does; only cli/ starts them.
        "desktop": {"leaf", "api", "local", "use case", "desktop"},
        "entry": {"cli"},
    }
    wrong = [
        f"{module} ({_layer(module)}) imports {imported} ({_layer(imported)})"
        for module, imports in sorted(_agent_imports().items())
        for imported in sorted(imports)
        if _layer(imported) not in allowed[_layer(module)]
    ]
    assert not wrong, "\n".join(wrong)


def test_only_the_entry_point_imports_the_agent_cli() -> None:
    outside = sorted(
        module
        for module, imports in _agent_imports().items()
        if _layer(module) not in ("cli", "entry")
        and any(_layer(imported) == "cli" for imported in imports)
    )
    assert not outside


def test_agent_modules_import_no_cycle() -> None:
    graph = _agent_imports()
    # A package imports its submodules when they are named through it: not a cycle.
    edges = {
        module: {i for i in imports if not module.startswith(i + ".")}
        for module, imports in graph.items()
    }
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for imported in sorted(edges[module]):
            if state.get(imported) == 1:
                cycles.append([*path[path.index(imported) :], imported])
            elif imported not in state:
                visit(imported, [*path, imported])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert not cycles, "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_agent_command_options_are_declared_once() -> None:
    declared: dict[str, list[str]] = {}
    for module, path in _agent_modules().items():
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                targets = list(node.targets)
            elif isinstance(node, ast.AnnAssign):
                targets = [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id.endswith("Option"):
                    declared.setdefault(target.id, []).append(module)
    assert declared["JsonOption"] == ["koppel.agent.cli.common"]
    assert declared["EnvOption"] == ["koppel.agent.cli.common"]
    twice = {name: where for name, where in declared.items() if len(where) > 1}
    assert not twice, twice


def _imports_qt(path: Path) -> bool:
    return any(module.split(".")[0] in ("PySide6", "shiboken6") for module, _name in _imports(path))


def test_only_the_desktop_package_imports_qt() -> None:
    """PySide6 is the optional extra ``koppel[desktop]``: the rest of the agent works
    without it, and its tray state model (and what feeds it) is plain Python."""
    with_qt = {module for module, path in _agent_modules().items() if _imports_qt(path)}
    desktop = "koppel.agent.desktop"
    assert {m for m in with_qt if not m.startswith(desktop + ".")} == set()
    assert f"{desktop}.submit_window" in with_qt  # the check sees Qt imports
    plain = {desktop, f"{desktop}.tray_model", f"{desktop}.tray_sources"}
    assert plain & with_qt == set()
    outside = sorted(
        f"{module} imports {imported}"
        for module, imports in _agent_imports().items()
        if _layer(module) not in ("cli", "desktop")
        for imported in imports
        if _layer(imported) == "desktop"
    )
    assert not outside


def test_only_the_agent_api_speaks_http() -> None:
    speaking = sorted(
        module
        for module, path in _agent_modules().items()
        if _layer(module) != "api"
        and any(
            (isinstance(node, ast.Import) and any(a.name == "httpx" for a in node.names))
            or (isinstance(node, ast.ImportFrom) and node.module == "httpx")
            for node in ast.walk(ast.parse(path.read_text("utf-8")))
        )
    )
    assert not speaking
