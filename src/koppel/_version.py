"""The release of this Koppel build. Its first two parts are the agent's update."""

__version__ = "2026.2.0"
