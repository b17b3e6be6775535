"""Benchmark: one replica, then two, under many agents (issue 14).

Each topology runs on a fresh PostgreSQL 15 database (a throwaway cluster,
tests/postgres.py) and a fresh bucket of an S3 server on loopback (moto's standalone
server, a process of its own; production uses AWS S3, MinIO or Ceph RGW), with real
``koppel-server`` processes on loopback (``--local-blobs``: one shared blob folder
instead of the bucket). For a bounded time, simulated agents:

- hold ``--agents`` event streams open, spread over the replicas, on the firm and two
  clients (idle: the events below concern none of them, as most events of a large host
  concern few of its agents);
- submit small files at ``--rate`` per second as the agent does (tus creation-with-upload,
  then POST items), spread over the replicas;
- receive files an integration pushes into anna's My files of C20001 at ``--pushes`` per
  second: a few watching streams (on the other replica than the push, when there are two) time the
  push's event from the push request to its arrival.

It prints, per topology, the submits' throughput and p50/p95/p99, the event delivery's
p50/p95/p99, each replica's memory (and per open stream) and CPU per request, then the
two-replica/one-replica ratios. Reported, not targets: on this 2-core machine the
replicas, PostgreSQL and this load generator share the same two cores.

    .venv/bin/python bench/load.py [--agents 2000] [--seconds 20] [--rate 20] [--pushes 5]
                                   [--local-blobs]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from _procs import BIN, clean_env, cpu_seconds, free_port, rss_bytes, run

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
import postgres  # the suite's throwaway cluster
from koppel.agent.version import AGENT_UPDATE_TEXT

UPDATE = {"Koppel-Update": AGENT_UPDATE_TEXT}
WATCHERS = 10  # streams that time the pushes' events (anna's, on C20001)
IDLE_ENVIRONMENTS = ("F10001", "C20002", "C20003")
MB = 1024 * 1024


@dataclass
class Replica:
    """One koppel-server process."""

    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Host:
    """The replicas of one topology and what the load needs of them."""

    base: Path
    env: dict[str, str]
    replicas: list[Replica] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)
    workstation: str = ""
    integration_key: str = ""

    def start(self, count: int) -> None:
        """Start ``count`` replicas (the first creates the demo practice)."""
        for number in range(count):
            port = free_port() if number else int(self.env["KOPPEL_PORT"])
            env = dict(self.env, KOPPEL_PORT=str(port))
            log = (self.base / f"replica-{number}.log").open("ab")
            extra = ["--demo"] if number == 0 else []
            process = subprocess.Popen(
                [str(BIN / "koppel-server"), "--log-level", "warning", *extra],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            replica = Replica(port, process)
            for _ in range(300):
                try:
                    if httpx.get(f"{replica.url}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            else:
                raise SystemExit(f"replica {number} did not start: see {log.name}")
            self.replicas.append(replica)

    def stop(self) -> None:
        """Stop every replica."""
        for replica in self.replicas:
            replica.process.terminate()
        for replica in self.replicas:
            replica.process.wait(20)


def _prepare(host: Host) -> None:
    """Link anna's workstation to the firm and its clients (a token each) and create an
    integration key for C20001."""
    home = host.base / "home"
    home.mkdir(exist_ok=True)
    agent = dict(
        clean_env(),
        HOME=str(home),
        XDG_DATA_HOME=str(home / ".local/share"),
        KOPPEL_PASSWORD="koppel-demo",
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        KOPPEL_TOKEN_STORE="file",
    )
    url = host.replicas[0].url
    for bundle, target in ((False, "F10001.koppel"), (True, "clients.koppel")):
        settings = home / target
        run([str(BIN / "koppel"), "settings", "download", "--server", url, "--env", "F10001",
             "--login", "anna", "-o", str(settings), *(["--bundle"] if bundle else [])],
            agent, home)  # fmt: skip
        run([str(BIN / "koppel"), "link", str(settings)], agent, home)
    tokens = json.loads((home / ".local/share/koppel/tokens.json").read_text())["tokens"]
    host.tokens = {key.split("|")[1]: token for key, token in tokens.items()}
    state = json.loads((home / ".local/share/koppel/state.json").read_text())
    host.workstation = state["workstation"]["id"]
    created = run([str(BIN / "koppel-admin"), "integrations", "create", "C20001", "bench",
                   "--json"], host.env, host.base)  # fmt: skip
    host.integration_key = json.loads(created)["key"]


async def _open_session(
    client: httpx.AsyncClient, host: Host, replica: Replica, environment: str
) -> str:
    for attempt in range(3):
        try:
            answer = await client.post(
                f"{replica.url}/api/v1/event-sessions",
                headers=UPDATE,
                json={
                    "environments": [
                        {"environment": environment, "token": host.tokens[environment]}
                    ],
                    "workstation_id": host.workstation,
                },
            )
        except (httpx.ReadError, httpx.RemoteProtocolError):
            # A kept-alive connection the server closed meanwhile (its keep-alive is 5 s).
            if attempt == 2:
                raise
            continue
        answer.raise_for_status()
        return str(answer.json()["session"])
    raise AssertionError("unreachable")


async def _hold_stream(
    replica: Replica, session: str, opened: asyncio.Event, arrivals: dict[str, float] | None
) -> None:
    """One event stream over a raw connection (lighter than an HTTP client for
    thousands); records when each pushed file's event arrives when ``arrivals`` is given."""
    reader, writer = await asyncio.open_connection("127.0.0.1", replica.port, limit=1 << 20)
    writer.write(
        f"GET /api/v1/events/{session} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Koppel-Update: {AGENT_UPDATE_TEXT}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    try:
        while (line := await reader.readline()) not in (b"\r\n", b""):
            pass  # the status line and headers
        opened.set()
        while line := await reader.readline():
            if arrivals is not None and line.startswith(b"data: "):
                event = json.loads(line[6:])
                if event.get("kind") == "file_ready":
                    arrivals.setdefault(event["payload"]["name"], time.perf_counter())
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def _submit(client: httpx.AsyncClient, host: Host, replica: Replica, data: bytes) -> float:
    """One small file as the agent sends it: the upload with its bytes, then the item."""
    started = time.perf_counter()
    api = f"{replica.url}/api/v1/environments/C20001"
    auth = {**UPDATE, "Authorization": f"Bearer {host.tokens['C20001']}"}
    name = base64.b64encode(f"scan-{uuid.uuid4().hex[:8]}.pdf".encode()).decode()
    created = await client.post(
        f"{api}/uploads",
        content=data,
        headers={
            **auth,
            "Tus-Resumable": "1.0.0",
            "Upload-Length": str(len(data)),
            "Upload-Metadata": f"filename {name}",
            "Content-Type": "application/offset+octet-stream",
        },
    )
    created.raise_for_status()
    upload = created.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    item = await client.post(
        f"{api}/items",
        headers=auth,
        json={
            "submission_id": uuid.uuid4().hex,
            "subject": "load",
            "type": "Invoice",
            "destination": "D0001",
            "uploads": [upload],
        },
    )
    item.raise_for_status()
    return time.perf_counter() - started


async def _push(
    client: httpx.AsyncClient, host: Host, replica: Replica, sent: dict[str, float]
) -> None:
    name = f"push-{uuid.uuid4().hex[:12]}.pdf"
    sent[name] = time.perf_counter()
    answer = await client.post(
        f"{replica.url}/api/v1/environments/C20001/users/anna/files",
        content=b"%PDF-1.4 pushed\n" * 64,
        headers={
            **UPDATE,
            "Authorization": f"Bearer {host.integration_key}",
            "Koppel-Filename": name,
        },
    )
    answer.raise_for_status()


async def _steady(rate: float, seconds: float, make: Any) -> list[Any]:
    """Start ``make(n)`` ``rate`` times a second for ``seconds``; their results."""
    tasks = []
    start = time.perf_counter()
    count = int(rate * seconds)
    for n in range(count):
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(make(n)))
    return list(await asyncio.gather(*tasks, return_exceptions=True))


async def _load(host: Host, options: argparse.Namespace) -> dict[str, Any]:
    replicas = host.replicas
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
    timeout = httpx.Timeout(60, pool=None)  # requests queue for a connection, not fail
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
        before = {r.port: rss_bytes(r.process.pid) for r in replicas}
        # The idle agents: event streams spread over the replicas.
        gate = asyncio.Semaphore(50)

        async def open_one(n: int) -> str:
            # Other environments than the pushes': as many agents of a large host would
            # be, most of them concerned by none of the events below.
            environment = IDLE_ENVIRONMENTS[n % len(IDLE_ENVIRONMENTS)]
            async with gate:
                return await _open_session(client, host, replicas[n % len(replicas)], environment)

        opening = time.perf_counter()
        sessions = await asyncio.gather(*(open_one(n) for n in range(options.agents)))
        print(
            f"  {options.agents} event sessions opened in {time.perf_counter() - opening:.1f} s",
            flush=True,
        )
        streams = []
        for n, session in enumerate(sessions):
            opened = asyncio.Event()
            replica = replicas[n % len(replicas)]
            streams.append(asyncio.create_task(_hold_stream(replica, session, opened, None)))
            if n % 200 == 199:
                await asyncio.sleep(0.05)  # let the server keep up with the connections
        # The watchers: on the last replica; pushes go to the first (another one when two).
        arrivals: dict[str, float] = {}
        watching = []
        for _ in range(WATCHERS):
            opened = asyncio.Event()
            session = await _open_session(client, host, replicas[-1], "C20001")
            watcher = _hold_stream(replicas[-1], session, opened, arrivals)
            watching.append(asyncio.create_task(watcher))
            await asyncio.wait_for(opened.wait(), 30)
        await asyncio.sleep(2)
        holding = {r.port: rss_bytes(r.process.pid) for r in replicas}
        cpu_before = {r.port: cpu_seconds(r.process.pid) for r in replicas}
        sent: dict[str, float] = {}
        data = os.urandom(20 * 1024)
        started = time.perf_counter()
        submits, pushes = await asyncio.gather(
            _steady(options.rate, options.seconds,
                    lambda n: _submit(client, host, replicas[n % len(replicas)], data)),
            _steady(options.pushes, options.seconds,
                    lambda n: _push(client, host, replicas[0], sent)),
        )  # fmt: skip
        took = time.perf_counter() - started
        await asyncio.sleep(2)  # the last events on their way
        cpu_used = sum(cpu_seconds(r.process.pid) - cpu_before[r.port] for r in replicas)
        after = {r.port: rss_bytes(r.process.pid) for r in replicas}
        alive = sum(not task.done() for task in streams)
        for task in [*streams, *watching]:
            task.cancel()
        await asyncio.gather(*streams, *watching, return_exceptions=True)
    latencies = [s for s in submits if isinstance(s, float)]
    failed = [s for s in submits if not isinstance(s, float)]
    failed_pushes = [p for p in pushes if isinstance(p, BaseException)]
    delivered = [arrivals[name] - at for name, at in sent.items() if name in arrivals]
    requests = len(latencies) * 2 + len(pushes)
    return {
        "replicas": len(replicas),
        "streams open at the end": alive,
        "submits": len(latencies),
        "failed submits": len(failed),
        "failed pushes": len(failed_pushes),
        "throughput": len(latencies) / took,
        "submit": _percentiles(latencies),
        "delivered": f"{len(delivered)} of {len(sent)}",
        "delivery": _percentiles(delivered),
        "rss": {port: after[port] / MB for port in after},
        "per stream": sum(holding[p] - before[p] for p in holding) / max(1, options.agents) / 1024,
        "cpu per request": cpu_used / max(1, requests) * 1000,
        "first failure": repr(failed[0])[:200] if failed else "",
    }


def _percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan")}
    cuts = statistics.quantiles(values, n=100)
    return {"p50": cuts[49] * 1000, "p95": cuts[94] * 1000, "p99": cuts[98] * 1000}


class S3:
    """moto's S3 server, a process of its own on a loopback port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.env = {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{self.port}",
            "AWS_ACCESS_KEY_ID": "koppel-bench",
            "AWS_SECRET_ACCESS_KEY": "koppel-bench-secret",
            "AWS_REGION": "eu-west-1",
        }
        for _ in range(100):
            try:
                httpx.get(self.env["AWS_ENDPOINT_URL"], timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise SystemExit("moto_server did not start")

    def new_bucket(self) -> str:
        """A fresh bucket's name."""
        import boto3

        name = f"koppel-load-{uuid.uuid4().hex[:8]}"
        client = boto3.client(
            "s3",
            endpoint_url=self.env["AWS_ENDPOINT_URL"],
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
            region_name=self.env["AWS_REGION"],
        )
        client.create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": self.env["AWS_REGION"]}
        )
        return name

    def stop(self) -> None:
        """Stop the server."""
        self.process.terminate()
        self.process.wait(10)


def _topology(
    cluster: postgres.Cluster, s3: S3 | None, count: int, options: argparse.Namespace
) -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(prefix="koppel-load-"))
    port = free_port()
    env = dict(
        clean_env(),
        KOPPEL_DATA_DIR=str(base / "server"),
        KOPPEL_DATABASE_URL=cluster.create_database(f"load_{uuid.uuid4().hex[:8]}"),
        KOPPEL_PORT=str(port),
        KOPPEL_PUBLIC_URL=f"http://127.0.0.1:{port}",
        KOPPEL_ACTOR="bench",
    )
    if s3 is not None:
        env.update(s3.env, KOPPEL_BLOB_URL=f"s3://{s3.new_bucket()}/koppel")
    host = Host(base, env)
    try:
        host.start(count)
        _prepare(host)
        return asyncio.run(_load(host, options))
    finally:
        host.stop()


def _show(result: dict[str, Any]) -> None:
    print(f"\n{result['replicas']} replica(s):")
    print(f"  submits        {result['submits']} done, {result['failed submits']} failed, "
          f"{result['throughput']:.1f}/s")  # fmt: skip
    submit, delivery = result["submit"], result["delivery"]
    print(f"  submit         p50 {submit['p50']:.0f} ms  p95 {submit['p95']:.0f} ms  "
          f"p99 {submit['p99']:.0f} ms")  # fmt: skip
    print(f"  event delivery p50 {delivery['p50']:.0f} ms  p95 {delivery['p95']:.0f} ms  "
          f"p99 {delivery['p99']:.0f} ms  ({result['delivered']} pushes seen)")  # fmt: skip
    rss = ", ".join(f"{mb:.0f} MB" for mb in result["rss"].values())
    print(f"  memory         {rss} (per replica); {result['per stream']:.1f} KB per open stream")
    print(f"  server CPU     {result['cpu per request']:.1f} ms per request")
    print(f"  streams open   {result['streams open at the end']}")
    if result["first failure"]:
        print(f"  first failure  {result['first failure']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=2000, help="idle event streams")
    parser.add_argument("--seconds", type=float, default=20, help="length of the load")
    parser.add_argument("--rate", type=float, default=20, help="small files submitted per second")
    parser.add_argument("--pushes", type=float, default=5, help="files pushed per second")
    parser.add_argument(
        "--local-blobs", action="store_true", help="one shared blob folder instead of S3"
    )
    options = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # thousands of connections
    if not postgres.available():
        raise SystemExit("PostgreSQL 15 binaries (initdb, pg_ctl) are needed on the PATH")
    cluster = postgres.start_cluster()
    s3 = None if options.local_blobs else S3()
    where = "a shared blob folder" if s3 is None else "an S3 bucket (moto)"
    print(f"PostgreSQL 15 and {where}; {options.agents} agents holding streams")
    results = []
    try:
        for count in (1, 2):
            results.append(_topology(cluster, s3, count, options))
            _show(results[-1])
    finally:
        cluster.stop()
        if s3 is not None:
            s3.stop()
    one, two = results
    print("\ntwo replicas / one replica (reported, not a target: the same two cores):")
    print(f"  throughput     {two['throughput'] / one['throughput']:.2f}x")
    print(f"  submit p95     {two['submit']['p95'] / one['submit']['p95']:.2f}x")
    print(f"  delivery p95   {two['delivery']['p95'] / one['delivery']['p95']:.2f}x")


if __name__ == "__main__":
    main()
