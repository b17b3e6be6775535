"""The agent's version and update, without importing pydantic (koppel.protocol does)."""

from __future__ import annotations

from koppel._version import __version__

VERSION = __version__
# The same rule as koppel.protocol.updates.Update.of_version (first two parts), kept here as
# text because importing koppel.protocol loads pydantic, which fast commands avoid.
AGENT_UPDATE_TEXT = ".".join(__version__.split(".")[:2])
USER_AGENT = f"koppel-agent/{__version__}"
