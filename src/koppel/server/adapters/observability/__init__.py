"""What an administrator watches a running server by: log lines with timestamps and
request ids (text or JSON), ``/healthz`` and ``/readyz``, and Prometheus metrics at
``/metrics`` (docs/operations.md)."""
