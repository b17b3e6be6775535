"""Adapters around the domain: database, blob store, HTTP API, command line."""
