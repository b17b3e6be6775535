"""``koppel edit``: edit an attachment in its default program and save every change as a
new version on the server.

The attachment is downloaded into a working folder of the agent's data folder and opened;
a watcher (watchfiles) uploads each save with tus and posts it as the next version with
``If-Match`` naming the version the working copy is based on. When someone else saved in
between (``version_conflict``) the save is kept on the server as a *conflict version*
beside theirs — nothing is overwritten — the user is told, and the working copy continues
from the server's newest version.

The watcher runs until Ctrl+C / SIGTERM (the session stays, to be resumed, finished or
discarded) or ``koppel edit --finish ITEM`` from another terminal (uploads a last
unsaved change, then ends the session).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from koppel.agent.api import AgentClient
from koppel.agent.choose import Target, choose
from koppel.agent.dossier import pick_attachment, safe_name
from koppel.agent.downloading import download_attachment
from koppel.agent.environments import explain
from koppel.agent.errors import AgentError, ApiError
from koppel.agent.exit_codes import ExitCode
from koppel.agent.local import edit_sessions as es
from koppel.agent.local.edit_sessions import Session
from koppel.agent.local.verified_writer import sha256_of
from koppel.agent.output import note
from koppel.i18n import gettext as _
from koppel.protocol.dossier import VersionOut

POLL_MS = 300  # how often the watcher looks at the control file when nothing changes
DEBOUNCE_MS = 600  # programs write in several steps; wait for them to settle
FINISH_WAIT_SECONDS = 120.0
RETRY_SECONDS = 10.0  # after a failed save, try again this often while watching


@dataclass(frozen=True)
class Saved:
    """One save sent to the server."""

    number: int
    conflict: bool
    conflict_name: str | None = None
    current_number: int | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- starting -----------------------------------------------------------------------------
def start(env: str | None, item_id: int, attachment: str | None) -> Session:
    """Ask the server whether the item may be edited, then resume or create the session
    (downloading the current version as the working copy)."""
    target = choose(env)
    code = target.env.code
    try:
        with AgentClient(target.env.api_url) as client:
            item = client.editable_item(code, target.token, item_id)
            chosen = pick_attachment(item, attachment)
            existing = next(
                (s for s in es.sessions_of(code, item_id) if s.attachment_id == chosen.id), None
            )
            if existing is not None:
                if existing.watching():
                    raise AgentError(
                        _(
                            "{attachment} of item {number} is already being edited (process "
                            "{pid}). Use that terminal, or "
                            "`koppel edit --finish {number} --env {environment}`."
                        ).format(
                            attachment=existing.attachment,
                            number=item_id,
                            pid=existing.pid,
                            environment=code,
                        ),
                        ExitCode.REFUSED,
                    )
                if existing.path.is_file():
                    note(
                        _("Resuming the edit of {attachment} (version {version}).").format(
                            attachment=existing.attachment, version=existing.number
                        )
                    )
                    return existing
                existing.remove()
            session = Session(
                environment=code,
                item=item_id,
                attachment_id=chosen.id,
                attachment=safe_name(chosen.name, f"item-{item_id}"),
                api_url=target.env.api_url,
                etag="",
                number=0,
                synced_sha256="",
                started=_now(),
            )
            got = download_attachment(client, code, target.token, item_id, chosen.id, session.path)
    except ApiError as exc:
        raise explain(code, exc) from exc
    session.etag, session.number, session.synced_sha256 = got.etag, got.number, got.sha256
    session.save()
    return session


# --- saving -------------------------------------------------------------------------------
def _upload(client: AgentClient, target: Target, session: Session, snapshot: Path) -> str:
    return client.upload(
        target.env.code,
        target.token,
        snapshot,
        metadata={"filename": session.attachment},
        progress=False,
    )


def sync(client: AgentClient, target: Target, session: Session) -> Saved | None:
    """Save the working copy as a new version when it differs from what the server has
    from us; on a conflict keep it as a conflict version and continue from the server's
    newest version. None when there was nothing to save."""
    if not session.path.is_file():
        return None
    if sha256_of(session.path) == session.synced_sha256:
        return None
    # Upload a snapshot: the user may save again while the upload runs.
    snapshot = session.folder / "outgoing" / session.attachment
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(session.path, snapshot)
    sha = sha256_of(snapshot)
    if sha == session.synced_sha256:
        return None
    code = target.env.code
    try:
        upload_id = _upload(client, target, session, snapshot)
        try:
            saved = client.new_version(
                code,
                target.token,
                session.item,
                session.attachment_id,
                upload_id=upload_id,
                etag=session.etag,
            )
        except ApiError as exc:
            if exc.code != "version_conflict":
                raise
            return _keep_conflict(client, target, session, upload_id, snapshot)
    finally:
        snapshot.unlink(missing_ok=True)
    session.etag, session.number, session.synced_sha256 = saved.etag, saved.number, sha
    session.save()
    return Saved(saved.number, conflict=False)


def _keep_conflict(
    client: AgentClient, target: Target, session: Session, upload_id: str, snapshot: Path
) -> Saved:
    code = target.env.code

    def keep(upload: str) -> VersionOut:
        return client.new_version(
            code,
            target.token,
            session.item,
            session.attachment_id,
            upload_id=upload,
            etag=session.etag,
            keep_as_conflict=True,
        )

    # The refused request claimed nothing (it was rolled back), so the same upload
    # normally serves; should the server have let it go, upload the snapshot again.
    try:
        kept = keep(upload_id)
    except ApiError as exc:
        if exc.code not in ("not_found", "upload_expired", "upload_incomplete"):
            raise
        kept = keep(_upload(client, target, session, snapshot))
    if kept.conflict_of is None:  # the version we knew became current again meanwhile
        session.etag, session.number = kept.etag, kept.number
        session.synced_sha256 = kept.sha256
        session.save()
        return Saved(kept.number, conflict=False)
    # Continue from the server's newest version: the working copy becomes that version,
    # and the user's change is safe in the conflict version.
    got = download_attachment(
        client, code, target.token, session.item, session.attachment_id, session.path
    )
    session.etag, session.number, session.synced_sha256 = got.etag, got.number, got.sha256
    session.conflicts.append(kept.number)
    session.save()
    return Saved(kept.number, conflict=True, conflict_name=kept.name, current_number=got.number)


def tell(session: Session, saved: Saved) -> None:
    """Tell the user what a save did."""
    if not saved.conflict:
        note(
            _("Saved {attachment} as version {version} of item {number}.").format(
                attachment=session.attachment, version=saved.number, number=session.item
            )
        )
        return
    note(
        _(
            "CONFLICT: someone else saved version {current} of {attachment} while you were "
            "editing. Your change was NOT lost: it is kept on the server as conflict version "
            '{version} "{conflict_name}". Your working copy now holds version {current}; '
            "merge your change into it by hand (`koppel items` / the versions of item "
            "{number})."
        ).format(
            current=saved.current_number,
            attachment=session.attachment,
            version=saved.number,
            conflict_name=saved.conflict_name,
            number=session.item,
        )
    )


# --- watching -----------------------------------------------------------------------------
@contextlib.contextmanager
def _stop_on_sigterm(stop: threading.Event) -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _read_control(session: Session) -> str | None:
    try:
        text = session.control.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text or None


def _target_of(session: Session) -> Target:
    return choose(session.environment)


def watch(session: Session, *, open_it: bool = True) -> str:
    """Open the working copy and save each change until stopped; return how it ended:
    ``finished`` (session removed), ``discarded`` or ``stopped`` (session kept)."""
    import os

    from watchfiles import watch as watch_files

    from koppel.agent.local.opener import open_file

    target = _target_of(session)
    session.control.unlink(missing_ok=True)
    session.pid = os.getpid()
    session.save()
    stop = threading.Event()
    outcome = "stopped"
    try:
        with AgentClient(session.api_url) as client, _stop_on_sigterm(stop):
            # A change left from an interrupted session is saved first.
            _sync_and_tell(client, target, session)
            if open_it:
                open_file(session.path)
            note(
                _(
                    "Editing {path} (item {number}, version {version}). Every save becomes a "
                    "new version. Stop with Ctrl+C, or run "
                    "`koppel edit --finish {number} --env {environment}`."
                ).format(
                    path=session.path,
                    number=session.item,
                    version=session.number,
                    environment=session.environment,
                )
            )
            first, failed, retry_at = True, False, 0.0
            for changes in watch_files(
                session.work_folder,
                stop_event=stop,
                debounce=DEBOUNCE_MS,
                rust_timeout=POLL_MS,
                yield_on_timeout=True,
                raise_interrupt=False,
            ):
                command = _read_control(session)
                if command == es.DISCARD:
                    outcome = "discarded"
                    break
                # Hash the file only when something happened, once when the watcher is up
                # (a save before it started watching is not lost), and to retry a failure.
                retry = failed and time.monotonic() >= retry_at
                if changes or command or first or retry:
                    failed = not _sync_and_tell(client, target, session)
                    retry_at = time.monotonic() + RETRY_SECONDS
                first = False
                if command == es.FINISH:
                    # Never end the session with a change the server does not have.
                    outcome = "stopped" if failed else "finished"
                    break
    except KeyboardInterrupt:
        outcome = "stopped"
    finally:
        if outcome == "stopped":
            session.pid = None
            if session.folder.is_dir():
                session.save()
    if outcome in ("finished", "discarded"):
        session.remove()
    return outcome


def _sync_and_tell(client: AgentClient, target: Target, session: Session) -> bool:
    """Save a change, if any, and tell the user; False when saving failed for now."""
    try:
        saved = sync(client, target, session)
    except ApiError as exc:
        if exc.code in ("not_editable", "connector_blocked", "not_found", *_TOKEN):
            raise explain(session.environment, exc) from exc
        # A passing failure (server busy, upload refused): say so and retry later.
        note(
            _("Could not save {attachment} ({reason}); retrying.").format(
                attachment=session.attachment, reason=exc.message
            )
        )
        return False
    except (AgentError, OSError) as exc:
        note(
            _("Could not save {attachment} ({reason}); retrying.").format(
                attachment=session.attachment, reason=exc
            )
        )
        return False
    if saved is not None:
        tell(session, saved)
    return True


_TOKEN = ("token_revoked", "token_invalid", "token_missing", "token_wrong_environment")


# --- from another terminal ----------------------------------------------------------------
def _the_session(env: str | None, item_id: int, attachment: str | None) -> Session:
    code = choose(env).env.code
    found = es.sessions_of(code, item_id)
    if attachment is not None:
        found = [s for s in found if s.attachment.lower() == attachment.lower()]
    if not found:
        raise AgentError(
            _(
                "Item {number} of {environment} is not being edited on this workstation "
                "(`koppel edit --list` shows what is)."
            ).format(number=item_id, environment=code),
            ExitCode.USAGE,
        )
    if len(found) > 1:
        names = ", ".join(s.attachment for s in found)
        raise AgentError(
            _(
                "Several attachments of item {number} are being edited ({names}); say which "
                "with --attachment NAME."
            ).format(number=item_id, names=names),
            ExitCode.USAGE,
        )
    return found[0]


def _wait_until_gone(session: Session, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = es.load(session.folder)
        if current is None or not current.watching():
            return True
        time.sleep(0.1)
    return False


def finish(env: str | None, item_id: int, attachment: str | None) -> Session:
    """Save a last unsaved change and end the session (the watcher's, if one runs)."""
    session = _the_session(env, item_id, attachment)
    if session.watching():
        session.control.write_text(es.FINISH, encoding="utf-8")
        if not _wait_until_gone(session, FINISH_WAIT_SECONDS):
            raise AgentError(
                _(
                    "The editing process {pid} did not finish in time; it keeps watching. "
                    "Stop it with Ctrl+C in its terminal."
                ).format(pid=session.pid),
            )
        if session.folder.is_dir():
            raise AgentError(
                _(
                    "The editing process stopped without finishing (its last save failed?); "
                    "the working copy is kept at {path}. Try --finish again."
                ).format(path=session.path)
            )
        return session
    target = _target_of(session)
    try:
        with AgentClient(session.api_url) as client:
            saved = sync(client, target, session)
    except ApiError as exc:
        raise explain(session.environment, exc) from exc
    if saved is not None:
        tell(session, saved)
    session.remove()
    return session


def discard(env: str | None, item_id: int, attachment: str | None) -> Session:
    """Forget local changes and the working copy (the server keeps every saved version)."""
    session = _the_session(env, item_id, attachment)
    if session.watching():
        session.control.write_text(es.DISCARD, encoding="utf-8")
        if not _wait_until_gone(session, FINISH_WAIT_SECONDS):
            raise AgentError(
                _("The editing process {pid} did not stop in time.").format(pid=session.pid)
            )
    session.remove()
    return session


def pending_change(session: Session) -> bool:
    """Whether the working copy holds a change not saved to the server."""
    try:
        return sha256_of(session.path) != session.synced_sha256
    except OSError:
        return False
