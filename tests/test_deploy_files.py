"""The deploy files (issue 14): the systemd units pass ``systemd-analyze verify`` and
the offline security review, and their command lines run; nginx accepts koppel.conf
(``nginx -t``) and, run for real in front of a ``koppel-server``, passes the request id
and ``X-Forwarded-*`` through, answers over TLS 1.2/1.3 only and refuses a body over the
upload limit; the compose file is valid against the Compose Specification's schema and
sets only settings Koppel has; the Containerfile's health check asks ``/healthz``.

No container can be built or run here: the images in compose.yaml are not started."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml

from certificates import self_signed
from dossier_support import UPDATE, link, open_event_session
from harness import BIN, Server, free_port, make_server, run
from koppel.server.config import ServerSettings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
UNITS = ("koppel-server.service", "koppel-server@.service", "koppel-worker.service")
INSTALLED_BIN = "/opt/koppel/venv/bin/"
SCHEMA_BEHIND = 6


def tool(name: str) -> str:
    """A system tool the test needs (.ci/run installs it)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin")
    assert found, f"{name} is missing: .ci/run installs it (apt-get install nginx-light systemd)"
    return found


def setting_names() -> set[str]:
    """Every KOPPEL_* variable the server reads."""
    return {f"KOPPEL_{name.upper()}" for name in ServerSettings.model_fields}


# --- systemd ---------------------------------------------------------------------------


def unit_here(name: str, folder: Path, instance: str = "8082") -> Path:
    """The unit with its ExecStart pointing at this virtual environment's commands (the
    real path, /opt/koppel/venv, does not exist here); a template as one instance."""
    text = (DEPLOY / "systemd" / name).read_text().replace(INSTALLED_BIN, f"{BIN}/")
    copy = folder / name.replace("@.", f"@{instance}.")
    copy.write_text(text)
    return copy


def directives(unit: Path, key: str) -> list[str]:
    """The values of ``key=`` lines in a unit, in order."""
    return [
        line.split("=", 1)[1]
        for line in unit.read_text().splitlines()
        if line.startswith(f"{key}=")
    ]


def test_the_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    copies = [unit_here(name, tmp_path) for name in UNITS]
    verified = subprocess.run(
        [tool("systemd-analyze"), "verify", *map(str, copies)],
        capture_output=True,
        text=True,
    )
    # verify prints every problem (an unknown directive, a bad value, a missing binary)
    # and still exits 0 for some: nothing at all must be printed.
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout + verified.stderr == ""


def test_systemd_analyze_verify_finds_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a misspelt hardening directive is reported."""
    unit = unit_here("koppel-worker.service", tmp_path)
    unit.write_text(unit.read_text().replace("NoNewPrivileges=yes", "NoNewPrivileges=perhaps"))
    verified = subprocess.run(
        [tool("systemd-analyze"), "verify", str(unit)], capture_output=True, text=True
    )
    assert "NoNewPrivileges" in verified.stderr or "perhaps" in verified.stderr


@pytest.mark.parametrize("name", UNITS)
def test_each_unit_is_hardened(name: str, tmp_path: Path) -> None:
    """systemd's own review of the sandbox: 'OK' is an exposure below 2 of 10 (a unit
    without any hardening scores 9.6)."""
    unit = unit_here(name, tmp_path)
    reviewed = subprocess.run(
        [tool("systemd-analyze"), "security", "--offline=true", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
    )
    found = re.search(r"Overall exposure level for \S+: ([\d.]+)", reviewed.stdout)
    assert found, reviewed.stdout + reviewed.stderr
    assert float(found.group(1)) < 2.5, reviewed.stdout
    assert directives(unit, "User") == ["koppel"]
    assert directives(unit, "EnvironmentFile") == ["/etc/koppel/koppel.env"]
    assert directives(unit, "Restart") == ["on-failure"]
    assert directives(unit, "ProtectSystem") == ["strict"]
    assert directives(unit, "ReadWritePaths") == ["/var/lib/koppel"]
    assert directives(unit, "NoNewPrivileges") == ["yes"]
    assert directives(unit, "PrivateTmp") == ["yes"]
    environment = dict(
        pair.split("=", 1) for line in directives(unit, "Environment") for pair in line.split()
    )
    assert environment["KOPPEL_AUTO_MIGRATE"] == "false"
    assert environment["KOPPEL_DATA_DIR"] == "/var/lib/koppel"
    assert {k for k in environment if k.startswith("KOPPEL_")} <= setting_names()


@pytest.mark.parametrize("name", UNITS)
def test_a_unit_s_command_refuses_a_database_it_must_not_migrate(name: str, tmp_path: Path) -> None:
    """Each unit's ExecStart, with the unit's Environment= (data folder moved here), on a
    host whose database was never created: it exits 6 naming `koppel-admin db init`
    (KOPPEL_AUTO_MIGRATE=false), so systemd does not restart it (RestartPreventExitStatus)."""
    port = str(free_port())
    unit = unit_here(name, tmp_path, instance=port)
    environment = dict(
        pair.split("=", 1) for line in directives(unit, "Environment") for pair in line.split()
    )
    environment["KOPPEL_DATA_DIR"] = str(tmp_path / "data")
    (tmp_path / "data").mkdir()
    command = shlex.split(directives(unit, "ExecStart")[0].replace("%i", port))
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KOPPEL_")}
    started = run(command, {**clean, **environment}, tmp_path)
    assert started.returncode == SCHEMA_BEHIND, started.output
    assert "koppel-admin db init" in started.stderr
    assert str(SCHEMA_BEHIND) in directives(unit, "RestartPreventExitStatus")[0].split()


def test_the_environment_file_example_sets_only_koppel_settings() -> None:
    example = (DEPLOY / "koppel.env.example").read_text()
    names = set(re.findall(r"^(KOPPEL_\w+)=", example, flags=re.MULTILINE))
    assert names and names <= setting_names(), names - setting_names()
    # Each unit sets these itself (the file would override them for every unit at once).
    assert not names & {"KOPPEL_PORT", "KOPPEL_HOST", "KOPPEL_WORKERS"}


# --- nginx ----------------------------------------------------------------------------


def nginx_config(
    folder: Path, *, https: int = 443, http: int = 80, upstream: tuple[int, int] | None = None
) -> Path:
    """deploy/nginx/koppel.conf as an administrator installs it, in a main configuration of
    its own under ``folder``: the placeholder certificate paths replaced by a throwaway
    certificate, the log files moved here, and (to run it) the ports changed."""
    cert_file, key_file = self_signed(folder, "koppel.example.com")
    text = (DEPLOY / "nginx" / "koppel.conf").read_text()
    text = text.replace("/etc/ssl/koppel/fullchain.pem", str(cert_file))
    text = text.replace("/etc/ssl/koppel/privkey.pem", str(key_file))
    text = text.replace("/var/log/nginx/", f"{folder}/")
    text = re.sub(r"listen (\[::\]:)?443 ", rf"listen \g<1>{https} ", text)
    text = re.sub(r"listen (\[::\]:)?80;", rf"listen \g<1>{http};", text)
    if upstream:
        text = text.replace("127.0.0.1:8081", f"127.0.0.1:{upstream[0]}")
        text = text.replace("127.0.0.1:8082", f"127.0.0.1:{upstream[1]}")
    (folder / "koppel.conf").write_text(text)
    main = folder / "nginx.conf"
    main.write_text(
        f"pid {folder}/nginx.pid;\n"
        f"error_log {folder}/error.log;\n"
        "daemon off;\nmaster_process off;\n"
        "events { worker_connections 64; }\n"
        f"http {{\n  include /etc/nginx/mime.types;\n  include {folder}/koppel.conf;\n}}\n"
    )
    return main


def test_nginx_accepts_the_configuration(tmp_path: Path) -> None:
    main = nginx_config(tmp_path)
    tested = subprocess.run(
        [tool("nginx"), "-t", "-p", str(tmp_path), "-c", str(main)],
        capture_output=True,
        text=True,
    )
    assert tested.returncode == 0, tested.stderr
    assert "test is successful" in tested.stderr


def test_nginx_t_finds_a_broken_configuration(tmp_path: Path) -> None:
    main = nginx_config(tmp_path)
    conf = tmp_path / "koppel.conf"
    conf.write_text(conf.read_text().replace("proxy_buffering off;", "proxy_buffering maybe;"))
    tested = subprocess.run(
        [tool("nginx"), "-t", "-p", str(tmp_path), "-c", str(main)],
        capture_output=True,
        text=True,
    )
    assert tested.returncode != 0 and "proxy_buffering" in tested.stderr


@pytest.fixture
def behind_nginx(tmp_path: Path) -> Iterator[tuple[Server, str, Path]]:
    """A ``koppel-server`` process (as both upstream replicas) behind the real nginx
    with deploy/nginx/koppel.conf; the server, nginx's https address and its folder (its
    http port in the file ``http-port``)."""
    srv = make_server(tmp_path, process=True)
    srv.env["FORWARDED_ALLOW_IPS"] = "127.0.0.1"  # nginx, as the units set it
    srv.start("--log-level", "info", "--demo")
    folder = tmp_path / "nginx"
    folder.mkdir()
    https, http = free_port(), free_port()
    main = nginx_config(folder, https=https, http=http, upstream=(srv.port, srv.port))
    (folder / "http-port").write_text(str(http))
    nginx = subprocess.Popen(
        [tool("nginx"), "-p", str(folder), "-c", str(main)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{http}/", timeout=1)
                break
            except httpx.HTTPError:
                assert nginx.poll() is None, nginx.stderr.read() if nginx.stderr else ""
                assert time.monotonic() < deadline, "nginx did not answer"
                time.sleep(0.1)
        yield srv, f"https://127.0.0.1:{https}", folder
    finally:
        nginx.send_signal(signal.SIGQUIT)
        try:
            nginx.wait(10)
        except subprocess.TimeoutExpired:
            nginx.kill()
            nginx.wait()
        srv.stop()


def test_nginx_passes_the_request_id_and_the_forwarded_headers(
    behind_nginx: tuple[Server, str, Path],
) -> None:
    srv, url, folder = behind_nginx
    with httpx.Client(base_url=url, verify=False, timeout=10) as client:
        answer = client.get("/healthz", headers={"X-Forwarded-For": "203.0.113.9"})
        assert answer.status_code == 200, answer.text
        request_id = answer.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id), request_id  # nginx's $request_id
    # Plain http is sent to https.
    http = (folder / "http-port").read_text()
    plain = httpx.get(f"http://127.0.0.1:{http}/portal/", headers={"Host": "koppel.example.com"})
    assert plain.status_code == 301
    assert plain.headers["location"] == "https://koppel.example.com/portal/"
    nginx_log = (folder / "koppel.access.log").read_text()
    assert f"rid={request_id}" in nginx_log
    # The server's access line names the same request, and the client nginx forwarded
    # (uvicorn honours X-Forwarded-For from FORWARDED_ALLOW_IPS).
    deadline = time.monotonic() + 5
    while f"[{request_id}]" not in srv.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    line = next(x for x in srv.log.read_text().splitlines() if f"[{request_id}]" in x)
    assert "koppel.access" in line and " 203.0.113.9 " in line, line


def test_nginx_speaks_tls_1_2_and_1_3_only(behind_nginx: tuple[Server, str, Path]) -> None:
    """TLS 1.3 and 1.2 handshakes succeed; TLS 1.1 fails (offered at OpenSSL's lowest
    security level where this Python still can, else refused by the client itself)."""
    _, url, _ = behind_nginx
    port = int(url.rsplit(":", 1)[1])
    for version, accepted in (
        (ssl.TLSVersion.TLSv1_3, True),
        (ssl.TLSVersion.TLSv1_2, True),
        (ssl.TLSVersion.TLSv1_1, False),
    ):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            with warnings.catch_warnings():  # TLS 1.1 is deprecated: that is the point
                warnings.simplefilter("ignore", DeprecationWarning)
                context.minimum_version = context.maximum_version = version
            context.set_ciphers("ALL:@SECLEVEL=0")
        except (ValueError, ssl.SSLError):
            assert not accepted  # this Python's OpenSSL cannot even offer it
            continue
        try:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
                context.wrap_socket(raw) as tls,
            ):
                spoke = tls.version()
        except (ssl.SSLError, ConnectionError):
            spoke = None
        assert (spoke is not None) is accepted, (version, spoke)


def test_nginx_refuses_a_body_over_the_upload_limit_at_once(
    behind_nginx: tuple[Server, str, Path],
) -> None:
    """An upload declared larger than 80 MB is refused by nginx (413) before a byte of it
    is sent; one of 75 MB is passed on (the server answers, here: no token)."""
    _, url, _ = behind_nginx
    path = "/api/v1/environments/F10001/uploads"
    port = int(url.rsplit(":", 1)[1])
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    for size, status in ((81 * 2**20, b" 413 "), (75 * 2**20 + 4096, b" 401 ")):
        # Only the head: nginx decides on Content-Length before the body; the server
        # (with request buffering off, at once) refuses the missing token.
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            context.wrap_socket(raw) as tls,
        ):
            tls.sendall(
                f"PATCH {path}/x HTTP/1.1\r\nHost: koppel.example.com\r\n"
                f"Tus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\n"
                f"Upload-Offset: 0\r\nContent-Length: {size}\r\n\r\n".encode()
            )
            answer = tls.recv(4096)
        assert status in answer.split(b"\r\n", 1)[0], (size, answer[:200])


def test_an_event_stream_through_nginx_gets_each_event_at_once(
    behind_nginx: tuple[Server, str, Path], workstation: Any
) -> None:
    """An agent's event stream opened through nginx: the event of an analysis made
    meanwhile arrives through it within a second or two (not when a buffer fills)."""
    srv, url, _ = behind_nginx
    ws = workstation("anna-laptop")
    token = link(ws, srv, "F10001", "anna")
    session = open_event_session(url, ws, "F10001", token, verify=False)
    with httpx.Client(base_url=url, verify=False, timeout=30) as client:
        path = f"/api/v1/events/{session}"
        with client.stream("GET", path, headers=UPDATE) as stream:
            assert stream.status_code == 200
            lines = stream.iter_lines()
            assert next(lines).startswith("retry:")
            asked = time.monotonic()
            queued = client.post(
                "/api/v1/environments/F10001/analyses",
                headers={**UPDATE, "Authorization": f"Bearer {token}"},
                json={"kind": "dossier-overview"},
            )
            assert queued.status_code == 202, queued.text
            kinds = []
            for line in lines:
                if line.startswith("event:"):
                    kinds.append(line.split(":", 1)[1].strip())
                    if kinds[-1] == "file_ready":
                        break
            waited = time.monotonic() - asked
    assert kinds[-1] == "file_ready", kinds
    assert waited < 5, f"the event came {waited:.1f} s after the request"


def test_a_server_honours_x_forwarded_for_only_from_forwarded_allow_ips(
    tmp_path: Path,
) -> None:
    """uvicorn reads FORWARDED_ALLOW_IPS from the environment of koppel-server: from an
    address it does not name, X-Forwarded-For is ignored (a client cannot pose as
    another); from one it names (nginx), the forwarded client is the one logged."""
    srv = make_server(tmp_path, process=True)
    seen: dict[str, str] = {}
    for trusted in ("10.9.9.9", "127.0.0.1"):
        srv.env["FORWARDED_ALLOW_IPS"] = trusted
        srv.start("--log-level", "info")
        try:
            answer = httpx.get(
                f"{srv.url}/healthz", headers={"X-Forwarded-For": "203.0.113.9"}, timeout=10
            )
            request_id = answer.headers["x-request-id"]
            deadline = time.monotonic() + 5
            while f"[{request_id}]" not in srv.log.read_text() and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            srv.stop()
        line = next(x for x in srv.log.read_text().splitlines() if f"[{request_id}]" in x)
        seen[trusted] = line.split("] ", 1)[1].split(" ", 1)[0]
    assert seen == {"10.9.9.9": "127.0.0.1", "127.0.0.1": "203.0.113.9"}


# --- containers -----------------------------------------------------------------------


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def test_the_compose_file_is_valid_against_the_compose_specification() -> None:
    schema = json.loads((ROOT / "tests" / "data" / "compose-spec.json").read_text())
    # The schema names draft 2019-09 (with a "#" jsonschema does not look up).
    validator = jsonschema.Draft201909Validator(schema)
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(compose())
    ]
    assert errors == []


def test_the_compose_schema_check_finds_a_mistake() -> None:
    schema = json.loads((ROOT / "tests" / "data" / "compose-spec.json").read_text())
    broken = compose()
    broken["services"]["worker"]["depends_on"]["migrate"]["condition"] = "when_it_feels_like_it"
    broken["services"]["server-1"]["restart_policy"] = "always"
    # The schema names draft 2019-09 (with a "#" jsonschema does not look up).
    validator = jsonschema.Draft201909Validator(schema)
    assert len(list(validator.iter_errors(broken))) >= 2


def test_the_compose_services_set_only_koppel_settings_and_wait_for_the_migration() -> None:
    services = compose()["services"]
    known = setting_names()
    koppel = {name: s for name, s in services.items() if s.get("image", "").startswith("koppel")}
    assert set(koppel) == {"migrate", "server-1", "server-2", "worker"}
    for name, service in koppel.items():
        variables = set(service["environment"])
        unknown = {v for v in variables if v.startswith("KOPPEL_")} - known
        assert unknown == set(), (name, unknown)
        assert service["environment"]["KOPPEL_AUTO_MIGRATE"] == "false"
        assert service["environment"]["KOPPEL_BLOB_URL"].startswith("s3://")
        if name != "migrate":
            assert service["depends_on"]["migrate"] == {
                "condition": "service_completed_successfully"
            }
    for name in ("server-1", "server-2"):
        assert "FORWARDED_ALLOW_IPS" in services[name]["environment"]
        assert services[name]["environment"]["KOPPEL_WORKERS"] == "0"
    assert services["worker"]["command"][:2] == ["koppel-server", "worker"]
    assert "koppel-admin db upgrade" in " ".join(services["migrate"]["command"])


def test_the_compose_images_are_not_agpl() -> None:
    """PostgreSQL (PostgreSQL licence) and SeaweedFS (Apache-2.0); MinIO is AGPL."""
    images = {s["image"].split(":")[0] for s in compose()["services"].values()}
    assert images == {
        "koppel-server",
        "docker.io/library/postgres",
        "docker.io/chrislusf/seaweedfs",
    }
    assert "minio" not in (DEPLOY / "compose.yaml").read_text().lower()


def test_the_koppel_commands_in_the_compose_file_exist() -> None:
    """Each command line of a Koppel service runs here with --help (same entry points
    as in the image)."""
    for service in compose()["services"].values():
        command = service.get("command")
        if not service.get("image", "").startswith("koppel"):
            continue
        if command[0] == "sh":
            lines = [shlex.split(part) for part in command[2].split("&&")]
        else:
            lines = [command]
        for argv in lines:
            shown = subprocess.run(
                [str(BIN / argv[0]), *argv[1:], "--help"], capture_output=True, text=True
            )
            assert shown.returncode == 0, (argv, shown.stderr)


def test_the_containerfile_health_check_asks_healthz(tmp_path: Path) -> None:
    """The HEALTHCHECK command, run as the image runs it: 0 while a server answers on
    KOPPEL_PORT, not 0 once it is gone."""
    text = (DEPLOY / "Containerfile").read_text().replace("\\\n", " ")
    line = next(x for x in text.splitlines() if x.startswith("HEALTHCHECK"))
    argv = json.loads(line[line.index("CMD") + 3 :].strip())
    assert argv[0] == "python" and "/healthz" in argv[2]
    srv = make_server(tmp_path, process=True)
    srv.start()
    environment = {**os.environ, "KOPPEL_PORT": str(srv.port)}
    try:
        healthy = subprocess.run([str(BIN / "python"), *argv[1:]], env=environment)
    finally:
        srv.stop()
    gone = subprocess.run([str(BIN / "python"), *argv[1:]], env=environment, capture_output=True)
    assert healthy.returncode == 0
    assert gone.returncode != 0
    assert re.search(r"^USER koppel$", text, flags=re.MULTILINE)
    assert re.search(r"^FROM python:3\.11-slim$", text, flags=re.MULTILINE)
    assert '"${wheel}[server]"' in text


def test_nginx_leaves_hsts_to_the_replicas() -> None:
    # The replicas send Strict-Transport-Security on every answer when their public URL
    # is https (tests/test_strict_transport.py); a second header from nginx, with other
    # values, would leave browsers obeying whichever comes first.
    conf = (DEPLOY / "nginx" / "koppel.conf").read_text()
    directives = [line.split("#")[0] for line in conf.splitlines()]
    assert not [d for d in directives if "strict-transport-security" in d.lower()]
