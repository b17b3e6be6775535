"""The real ``koppel`` agent, made to die (exit 137, as ``kill -9`` would end it) right
after the server answered its item request and before it forgets the submission. The
fault is set here, by the test, so that no crash switch ships in the agent.

Run as ``python tests/crashing_agent.py submit FILE ...`` with the workstation's
environment."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

from koppel.agent.cli import main
from koppel.agent.local import queue


def _die(_submission: object) -> NoReturn:
    # `forget` is what a sent submission does right after the server's answer.
    os._exit(137)


if __name__ == "__main__":
    queue.forget = _die
    sys.exit(main())
