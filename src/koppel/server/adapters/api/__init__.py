"""The agent API: the routes the workstation agent and integrations call."""
