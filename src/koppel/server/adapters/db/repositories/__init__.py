"""The SQL repositories, one module per family."""
