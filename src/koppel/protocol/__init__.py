"""The contract the server and the agent share.

Settings-file schema, API models, error codes, function paths and the update rules.
Nothing here performs I/O; both sides import it. The package imports none of its modules
itself: the agent's fast commands read ``counts`` or ``updates`` without loading pydantic.
"""
