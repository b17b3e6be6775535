"""What the agent API and the portal both serve: errors, parameters, request
dependencies, downloads of stored files and of enrollment packages."""
