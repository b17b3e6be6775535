"""The base of every protocol model: its validator is built on first use, not at import.

Building a pydantic model's validator costs about a millisecond; a `koppel` command
imports some fifty protocol models and uses a handful, so deferring the build takes tens
of milliseconds off every command that talks to a server. The server builds the ones its
routes use when it assembles the app.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ProtocolModel(BaseModel):
    """A pydantic model of the protocol, built when first validated or serialized."""

    model_config = ConfigDict(defer_build=True)


def build_all() -> None:
    """Import every protocol module and build its models now: the server does, before its
    routes are declared, so that FastAPI reads built models and no request pays for one."""
    import importlib
    import pkgutil

    import koppel.protocol

    for module in pkgutil.iter_modules(koppel.protocol.__path__):
        importlib.import_module(f"koppel.protocol.{module.name}")
    pending = list(ProtocolModel.__subclasses__())
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        # Built now, and not deferred again where FastAPI wraps a model in a TypeAdapter.
        model.model_config["defer_build"] = False
        model.model_rebuild(force=True)
