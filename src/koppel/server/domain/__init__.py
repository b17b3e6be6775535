"""The server's rules, free of HTTP and SQL. Adapters implement ``Repository``."""
