"""Links: linking workstations, enrollment, revoking tokens, updates and bundles."""
