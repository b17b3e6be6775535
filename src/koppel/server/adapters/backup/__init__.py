"""Backups of a host (``koppel-admin backup`` / ``restore``) and the move of one
environment (``koppel-admin env export`` / ``env restore``): a consistent copy of the
database, the file contents it names, and a manifest of their SHA-256 sums that a
restore checks before anything is put in place."""
