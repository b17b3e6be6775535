"""Background jobs (leases) and the analyses they make."""
