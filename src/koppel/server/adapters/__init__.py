"""Adapters around the domain: database, blob store, HTTP API, command line."""

from koppel.protocol._model import build_all

# The agent defers building the protocol models (it uses a few per command); the server
# uses them all, and its routes must see them built.
build_all()
