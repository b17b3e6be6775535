"""Asks recorded addresses whether they reach this host: a request to each address's
``/api/v1/info`` that must answer with this host's identity (the check behind
``koppel-admin check``: an address nothing answers at, or another server answers at,
makes every employee's first link fail)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import httpx
from pydantic import ValidationError

from koppel.protocol.api import ServerInfo
from koppel.protocol.wire import API_PREFIX
from koppel.server.domain.setup.host import Reach

TIMEOUT_SECONDS = 5.0


def probe_addresses(urls: Sequence[str], host_id: str) -> Mapping[str, Reach]:
    """What answers at each address (asked at once, each within ``TIMEOUT_SECONDS``)."""
    if not urls:
        return {}
    with (
        httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client,
        ThreadPoolExecutor(max_workers=min(8, len(urls))) as pool,
    ):
        answers = pool.map(lambda url: _probe(client, url, host_id), urls)
        return dict(zip(urls, answers, strict=True))


def _probe(client: httpx.Client, url: str, host_id: str) -> Reach:
    target = f"{url.rstrip('/')}{API_PREFIX}/info"
    try:
        response = client.get(target)
    except httpx.ConnectError:
        return Reach(False, "does not answer: nothing listens there, or the name is unknown")
    except httpx.TimeoutException:
        return Reach(False, f"does not answer within {TIMEOUT_SECONDS:g} seconds")
    except httpx.HTTPError as exc:
        return Reach(False, f"cannot be reached ({type(exc).__name__}: {exc})")
    if response.is_redirect:
        where = response.headers.get("location", "elsewhere")
        return Reach(False, f"redirects to {where}: record the address it redirects to")
    if response.status_code != 200:
        return Reach(False, f"answers HTTP {response.status_code}, not as a Koppel server")
    try:
        identity = ServerInfo.model_validate_json(response.content)
    except ValidationError:
        return Reach(False, "answers, but not as a Koppel server")
    if not identity.host_id:
        return Reach(False, f"answers as a Koppel server of release {identity.server_version}")
    if identity.host_id != host_id:
        return Reach(False, "answers as another Koppel server (not the one of this database)")
    return Reach(True, "answers as this server")
