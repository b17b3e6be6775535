"""The workstation agent: the ``koppel`` CLI that links one workstation to many environments.

Modules are small and imported lazily by :mod:`koppel.agent.cli`, so that a command only
pays for what it uses (``koppel envs`` never imports httpx, keyring or pydantic).
"""
