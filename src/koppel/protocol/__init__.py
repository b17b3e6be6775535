"""The contract the server and the agent share.

Settings-file schema, API models, error codes, function paths and the update rules.
Nothing here performs I/O; both sides import it.
"""

from koppel.protocol.errors import ErrorBody, ErrorCode
from koppel.protocol.functions import Function
from koppel.protocol.updates import AGENT_UPDATE, Update

__all__ = ["AGENT_UPDATE", "ErrorBody", "ErrorCode", "Function", "Update"]
