"""An S3 endpoint on loopback for the tests: moto's standalone server (from PyPI, run on
a thread of the test process). Production uses AWS S3, MinIO or Ceph RGW; moto speaks
the same S3 API over real HTTP, so boto3 and the server take the same code path.

``start()`` sets the usual AWS variables in this process's environment (the in-process
servers read them through boto3; ``koppel-server`` processes inherit them)."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import Any

from harness import free_port

_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION")


@dataclass
class S3Server:
    """moto's S3 server on a free loopback port."""

    server: Any
    endpoint: str
    _client: Any = None

    def client(self) -> Any:
        """A boto3 client of this endpoint (one: making a client takes a tenth of a second)."""
        if self._client is None:
            from koppel.server.adapters.blobs.s3 import s3_client

            self._client = s3_client()
        return self._client

    def new_bucket(self) -> str:
        """A fresh bucket; its ``KOPPEL_BLOB_URL`` (with a prefix, as a host would use)."""
        name = f"koppel-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(
            Bucket=name,
            CreateBucketConfiguration={"LocationConstraint": os.environ["AWS_REGION"]},
        )
        return f"s3://{name}/blobs-test"

    def stop(self) -> None:
        """Stop the server and forget the variables."""
        self.server.stop()
        for name in _VARIABLES:
            os.environ.pop(name, None)


def start() -> S3Server:
    """Start moto's server on 127.0.0.1 and point the AWS variables at it."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per S3 request
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="koppel-test",
        AWS_SECRET_ACCESS_KEY="koppel-test-secret",
        AWS_REGION="eu-west-1",
    )
    return S3Server(server, endpoint)
