"""The ``koppel-server`` and ``koppel-admin`` console scripts, safe on an agent-only install.

``pip install koppel`` installs every console script of the distribution, including the
server's, but not the ``server`` extra they need. Started there, they would end in a
``ModuleNotFoundError`` traceback; these shims look for the extra first and say in one
line how to get it (exit 2, a usage error: the command is not available here).

Standard library only: the shims must run with none of the extra's packages present.
"""

from __future__ import annotations

import sys
from importlib.util import find_spec

# Packages of the ``server`` extra that the server imports as it starts; any one missing
# means the extra is not installed (the agent's own dependencies never include them).
SERVER_PACKAGES = ("fastapi", "uvicorn", "sqlalchemy", "alembic", "argon2", "jinja2")
NOT_INSTALLED = 2


def missing_server_packages() -> list[str]:
    """The server extra's packages that cannot be imported here."""
    return [name for name in SERVER_PACKAGES if find_spec(name) is None]


def _require_server(command: str) -> None:
    # The host's commands are administrators' tools and speak English whatever the
    # machine's locale (numbers and sizes too); each request to the server has its own.
    from koppel.i18n import set_process_language

    set_process_language("en")
    missing = missing_server_packages()
    if missing:
        print(
            f"{command} is part of the Koppel server, which is not installed here (only the "
            f"workstation agent is): run pip install 'koppel[server]' to get it.",
            file=sys.stderr,
        )
        raise SystemExit(NOT_INSTALLED)


def serve() -> None:
    """Entry point of ``koppel-server``."""
    _require_server("koppel-server")
    from koppel.server.adapters.cli.serve import main

    main()


def admin() -> None:
    """Entry point of ``koppel-admin``."""
    _require_server("koppel-admin")
    from koppel.server.adapters.cli.admin import main

    main()
