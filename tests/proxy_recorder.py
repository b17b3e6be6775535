"""A proxy.py plugin that writes every request it forwards to a file, one line each
(``METHOD URL``): the tests' evidence that a request went through the proxy. Loaded by
the proxy process started in proxy_support.py."""

from __future__ import annotations

import os
from typing import Any

from proxy.http.proxy import HttpProxyBasePlugin


class RecordRequests(HttpProxyBasePlugin):  # type: ignore[misc]
    """Appends ``METHOD URL`` for each request to ``$KOPPEL_TEST_PROXY_RECORD``."""

    def handle_client_request(self, request: Any) -> Any:
        # An absolute-form request: its path is relative, its server in host and port.
        server = f"{request.host.decode()}:{request.port}"
        line = f"{request.method.decode()} http://{server}{request.path.decode()}\n"
        with open(os.environ["KOPPEL_TEST_PROXY_RECORD"], "a", encoding="utf-8") as record:
            record.write(line)
        return request
