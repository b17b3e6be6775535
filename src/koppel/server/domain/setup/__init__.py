"""Set-up: the procedure per environment (administration, checks, the host's address)."""
