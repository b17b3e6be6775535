""" "Save installation": agent wheels per update.

An operator can drop the wheel of any update into the packages folder
(``koppel-2026.1.4-py3-none-any.whl``). Where none is there, the server builds the wheel
of its own code, labelled with the requested update: this release's agent speaks the
agent API of both updates it hosts. Built wheels are cached in the same folder.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import logging
import os
import re
import tempfile
import zipfile
from pathlib import Path

import koppel
from koppel._version import __version__
from koppel.protocol.updates import AGENT_UPDATE, Update
from koppel.server.adapters.private_files import make_dir
from koppel.server.domain.links.installation import AgentWheel

_log = logging.getLogger(__name__)

_WHEEL = re.compile(r"^koppel-(\d{4}\.\d{1,2})\.(\d+)-py3-none-any\.whl$")
_SCRIPTS = {
    "koppel": "koppel.agent.cli:entry",
    # Shims: on an agent-only install they say `pip install 'koppel[server]'` (exit 2).
    "koppel-server": "koppel._server_entry:serve",
    "koppel-admin": "koppel._server_entry:admin",
}
# The windowless launcher (pythonw on Windows) that autostart runs.
_GUI_SCRIPTS = {"koppelw": "koppel.agent.cli:entry"}


class LocalAgentPackages:
    """The agent wheels this server hands out, from a local folder (``AgentPackages``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        # Hashing a wheel on every update check would read it each time: the description
        # is kept while the file's size and modification time stay the same.
        self._described: dict[Path, tuple[tuple[int, int], AgentWheel]] = {}

    def wheel_for(self, update: Update) -> Path:
        """The newest wheel of ``update``: a stored one, else one built from this release."""
        stored = self._stored(update)
        if stored is not None:
            return stored
        version = __version__ if update == AGENT_UPDATE else f"{update}.0"
        return self._build(version)

    def release_of(self, update: Update) -> AgentWheel | None:
        """The wheel :meth:`wheel_for` hands out, with its version, SHA-256 and size; None
        when there is none and none can be built here (the folder cannot be written)."""
        try:
            path = self.wheel_for(update)
            stat = path.stat()
        except OSError as exc:
            _log.warning("no agent wheel of update %s: %s", update, exc)
            return None
        key = (stat.st_size, stat.st_mtime_ns)
        known = self._described.get(path)
        if known is not None and known[0] == key:
            return known[1]
        match = _WHEEL.match(path.name)
        version = f"{match.group(1)}.{match.group(2)}" if match else __version__
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(1024 * 1024):
                digest.update(chunk)
        wheel = AgentWheel(path=path, version=version, sha256=digest.hexdigest(), size=stat.st_size)
        self._described[path] = (key, wheel)
        return wheel

    def _stored(self, update: Update) -> Path | None:
        if not self.folder.is_dir():
            return None
        best: tuple[int, Path] | None = None
        for path in self.folder.iterdir():
            match = _WHEEL.match(path.name)
            if match and match.group(1) == str(update):
                patch = int(match.group(2))
                if best is None or patch > best[0]:
                    best = (patch, path)
        return best[1] if best else None

    def _build(self, version: str) -> Path:
        make_dir(self.folder)
        target = self.folder / f"koppel-{version}-py3-none-any.whl"
        # mkstemp makes the file 0600; the rename keeps that mode.
        fd, temporary = tempfile.mkstemp(dir=self.folder, suffix=".part")
        os.close(fd)
        try:
            build_wheel(version, Path(temporary))
            os.replace(temporary, target)  # never visible half-written
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
        return target


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _metadata(version: str) -> str:
    try:
        requires = importlib.metadata.requires("koppel") or []
    except importlib.metadata.PackageNotFoundError:
        requires = []
    lines = [
        "Metadata-Version: 2.1",
        "Name: koppel",
        f"Version: {version}",
        "Summary: Koppel agent: links this workstation to business-administration environments.",
        "Requires-Python: >=3.11",
        "Provides-Extra: server",
        *(f"Requires-Dist: {r}" for r in requires if 'extra == "test"' not in r),
    ]
    return "\n".join(lines) + "\n"


def build_wheel(version: str, destination: Path) -> None:
    """Write a wheel of the running ``koppel`` package, versioned ``version``."""
    source = Path(koppel.__file__).parent
    dist_info = f"koppel-{version}.dist-info"
    records: list[str] = []
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED) as wheel:

        def add(name: str, data: bytes) -> None:
            wheel.writestr(name, data)
            records.append(_record_line(name, data))

        for path in sorted(source.rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts or path.suffix in (".pyc",):
                continue
            name = "koppel/" + path.relative_to(source).as_posix()
            data = path.read_bytes()
            if name == "koppel/_version.py":
                data = (
                    '"""The release of this Koppel build. Its first two parts are the agent\'s '
                    f'update."""\n\n__version__ = "{version}"\n'
                ).encode()
            add(name, data)
        add(f"{dist_info}/METADATA", _metadata(version).encode())
        add(
            f"{dist_info}/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: koppel-server\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n",
        )
        scripts = "".join(f"{name} = {target}\n" for name, target in _SCRIPTS.items())
        gui = "".join(f"{name} = {target}\n" for name, target in _GUI_SCRIPTS.items())
        add(
            f"{dist_info}/entry_points.txt",
            f"[console_scripts]\n{scripts}\n[gui_scripts]\n{gui}".encode(),
        )
        records.append(f"{dist_info}/RECORD,,")
        wheel.writestr(f"{dist_info}/RECORD", "\n".join(records) + "\n")
