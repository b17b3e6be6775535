"""Commands of the ``koppel`` CLI, one module per command (registered in ``cli.py``)."""
