"""The SQL tables, one module per family (sharing one MetaData)."""
