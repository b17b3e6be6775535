"""Command-line adapters: ``koppel-server`` and ``koppel-admin``."""
