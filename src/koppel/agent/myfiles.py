"""``koppel files`` and ``koppel analyses``: My files of one linked environment."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from koppel.agent import files_api
from koppel.agent.choose import Target, choose
from koppel.agent.client import AgentClient
from koppel.agent.delivery import Ledger, deliver, folder_for
from koppel.agent.environment import explain
from koppel.agent.errors import AgentError, ApiError, CannotSave
from koppel.agent.exit_codes import ExitCode
from koppel.agent.local_names import local_name
from koppel.agent.output import note
from koppel.protocol.files import AnalysisAccepted, OutputFileOut


def list_files(env: str | None) -> tuple[Target, list[OutputFileOut]]:
    """My files of the chosen environment, newest first."""
    target = choose(env)
    try:
        with AgentClient(target.env.api_url) as client:
            return target, files_api.list_files(client, target.env.code, target.token)
    except ApiError as exc:
        raise explain(target.env.code, exc) from exc


def get_file(env: str | None, file_id: int, output: Path | None) -> Path:
    """Download one ready file (verified against its SHA-256); where it was written.
    Without ``-o`` it goes where ``koppel watch`` puts files, and counts as delivered."""
    target = choose(env)
    code = target.env.code
    try:
        with AgentClient(target.env.api_url) as client:
            found = {f.id: f for f in files_api.list_files(client, code, target.token)}
            file = found.get(file_id)
            if file is None:
                raise AgentError(
                    f"There is no file {file_id} in your My files of {code}; list them with "
                    f"`koppel files --env {code}`.",
                    ExitCode.REFUSED,
                )
            if file.state != "ready":
                raise AgentError(
                    f"File {file_id} ({file.name}) is {file.state}"
                    + (f": {file.error}" if file.error else "; try again when it is ready.")
                )
            if output is None:
                placed = deliver(client, Ledger(), code, target.env.name, target.token, file, note)
                if placed is not None:
                    return placed
                folder = folder_for(target.env.name, code)
                return folder / local_name(file.name, folder)
            folder, name = (output, None) if output.is_dir() else (output.parent, output.name)
            written = files_api.download(client, code, target.token, file, folder)
            if name and written.name != name:
                try:
                    written = written.replace(folder / name)
                except OSError as exc:
                    with contextlib.suppress(OSError):
                        written.unlink(missing_ok=True)
                    raise CannotSave(name, folder, exc) from exc
            return written
    except ApiError as exc:
        raise explain(code, exc) from exc


def request_analysis(
    env: str | None, destination: str | None, wait: bool, timeout: float = 600
) -> tuple[Target, AnalysisAccepted, OutputFileOut | None]:
    """Ask for the dossier overview; with ``wait``, poll My files until it is made."""
    target = choose(env)
    code = target.env.code
    try:
        with AgentClient(target.env.api_url) as client:
            accepted = files_api.request_analysis(client, code, target.token, destination)
            if not wait:
                return target, accepted, None
            deadline = time.monotonic() + timeout
            delay = 0.25
            while True:
                files = {f.id: f for f in files_api.list_files(client, code, target.token)}
                file = files.get(accepted.file_id)
                if file is not None and file.state != "pending":
                    return target, accepted, file
                if time.monotonic() > deadline:
                    raise AgentError(
                        f"The analysis (file {accepted.file_id}) is still pending; see it later "
                        f"with `koppel files --env {code}`."
                    )
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
    except ApiError as exc:
        raise explain(code, exc) from exc
