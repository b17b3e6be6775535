"""The HTTP adapter: the agent API (FastAPI), thin over the domain."""
