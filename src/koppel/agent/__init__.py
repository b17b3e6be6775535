"""The workstation agent: the ``koppel`` CLI that links one workstation to many environments.

Layers, each importing only downward (tests/test_quality.py checks it): :mod:`.cli`
presents the use cases (the modules beside the packages: linking, submitting, sending,
editing, dossier, my_files, watching, ...), which combine :mod:`.api` (the one client of
the agent API) and :mod:`.local` (what lives on this workstation); ``errors``,
``exit_codes``, ``output``, ``version`` and ``skipped`` are leaves all may use.

Commands import their use cases when they run, so that a command only pays for what it
uses (``koppel envs`` never imports httpx, keyring or pydantic).
"""
