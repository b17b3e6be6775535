"""Koppel: one workstation, many business-administration environments."""

from koppel._version import __version__

__all__ = ["__version__"]
