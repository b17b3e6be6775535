"""My files: listing and getting them (``koppel files``), asking for analyses
(``koppel analyses``), and delivering ready files to this workstation once
(``koppel watch``): into the My files folder, verified, notified, marked delivered."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

from koppel.agent.api import AgentClient
from koppel.agent.choose import Target, choose
from koppel.agent.downloading import download_my_file
from koppel.agent.environments import explain
from koppel.agent.errors import AgentError, ApiError, CannotSave
from koppel.agent.local import notify
from koppel.agent.local.file_names import local_name
from koppel.agent.local.my_files_folder import Ledger, my_files_folder_of
from koppel.agent.output import note
from koppel.i18n import gettext as _
from koppel.protocol.files import AnalysisAccepted, OutputFileOut

Log = Callable[[str], None]


def list_my_files(env: str | None) -> tuple[Target, list[OutputFileOut]]:
    """My files of the chosen environment, newest first."""
    target = choose(env)
    try:
        with AgentClient(target.env.api_url) as client:
            return target, client.my_files(target.env.code, target.token)
    except ApiError as exc:
        raise explain(target.env.code, exc) from exc


def get_my_file(env: str | None, file_id: int, output: Path | None) -> Path:
    """Download one ready file (verified against its SHA-256); where it was written.
    Without ``-o`` it goes where ``koppel watch`` puts files, and counts as delivered."""
    target = choose(env)
    code = target.env.code
    try:
        with AgentClient(target.env.api_url) as client:
            found = {f.id: f for f in client.my_files(code, target.token)}
            file = found.get(file_id)
            if file is None:
                raise ApiError(
                    "not_found",
                    _(
                        "There is no file {id} in your My files of {environment}; list them "
                        "with `koppel files --env {environment}`."
                    ).format(id=file_id, environment=code),
                    environment=code,
                    status=404,
                )
            if file.state == "failed":
                raise AgentError(
                    _("File {id} ({name}) could not be made: {error}").format(
                        id=file_id,
                        name=file.name,
                        error=_(file.error) if file.error else _("no reason given"),
                    )
                )
            if file.state != "ready":
                raise AgentError(
                    _("File {id} ({name}) is not ready yet; try again when it is ready.").format(
                        id=file_id, name=file.name
                    )
                )
            if output is None:
                placed = deliver(client, Ledger(), code, target.env.name, target.token, file, note)
                if placed is not None:
                    return placed
                folder = my_files_folder_of(target.env.name, code)
                return folder / local_name(file.name, folder)
            folder, name = (output, None) if output.is_dir() else (output.parent, output.name)
            written = download_my_file(client, code, target.token, file, folder)
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
            accepted = client.request_analysis(code, target.token, destination)
            if not wait:
                return target, accepted, None
            deadline = time.monotonic() + timeout
            delay = 0.25
            while True:
                files = {f.id: f for f in client.my_files(code, target.token)}
                file = files.get(accepted.file_id)
                if file is not None and file.state != "pending":
                    return target, accepted, file
                if time.monotonic() > deadline:
                    raise AgentError(
                        _(
                            "The analysis (file {id}) is still pending; see it later with "
                            "`koppel files --env {environment}`."
                        ).format(id=accepted.file_id, environment=code)
                    )
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
    except ApiError as exc:
        raise explain(code, exc) from exc


def deliver(
    client: AgentClient,
    ledger: Ledger,
    environment_code: str,
    environment_name: str,
    token: str,
    file: OutputFileOut,
    log: Log,
) -> Path | None:
    """Place one ready file here (verified), notify, and mark it delivered on the server.
    None when it was already here."""
    server = client.base_url
    target: Path | None = None
    if not ledger.placed(server, file.id):
        folder = my_files_folder_of(environment_name, environment_code)
        target = download_my_file(client, environment_code, token, file, folder)
        try:
            ledger.add_placed(server, file.id)
        except OSError as exc:  # the file is here; the server is told below all the same
            log(
                _("{environment}: could not record {name} in {path} ({reason})").format(
                    environment=environment_code, name=file.name, path=ledger.path, reason=exc
                )
            )
        log(
            _("{environment}: received {name} -> {path}").format(
                environment=environment_code, name=file.name, path=target
            )
        )
        notify.file_arrived(
            _("Koppel: {environment}").format(environment=environment_name),
            _("{name} arrived; click to open it").format(name=target.name),
            target,
            log,
        )
    try:
        client.mark_delivered(environment_code, token, file.id)
    except AgentError as exc:
        # The ledger keeps it from being placed twice; the server hears next time.
        log(
            _("{environment}: could not mark {name} delivered yet ({reason})").format(
                environment=environment_code, name=file.name, reason=exc.message
            )
        )
    return target
