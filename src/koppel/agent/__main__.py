"""``python -m koppel.agent``: the same as the ``koppel`` command."""

from koppel.agent.cli import entry

entry()
