"""Sending queued submissions: upload what is missing (tus, resumed; several files at
once, see :mod:`koppel.agent.upload_batch`), then create the item; the queue file goes
once the item exists (see :mod:`koppel.agent.local.queue`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from koppel.agent import timings
from koppel.agent.api import AgentClient
from koppel.agent.environments import explain, find, token_of
from koppel.agent.errors import AgentError, ApiError, ServerUnreachable
from koppel.agent.local import queue
from koppel.agent.local import state as state_mod
from koppel.agent.local.queue import FAILED, PENDING, Submission, claimed
from koppel.agent.submission_checks import check_types, upload_rules
from koppel.agent.transfers import DEFAULT_TRANSFERS
from koppel.agent.upload_batch import FileProgress as FileProgress
from koppel.agent.upload_batch import UploadBatch
from koppel.i18n import gettext as _
from koppel.protocol.dossier import CreateItemRequest


@dataclass
class SendResult:
    """What became of one submission."""

    id: str
    environment: str
    state: str  # sent, queued, failed, busy
    message: str = ""
    item: dict[str, Any] | None = None
    code: str | None = None

    def as_json(self) -> dict[str, Any]:
        """For ``--json``."""
        return asdict(self)


def _fail(submission: Submission, exc: AgentError) -> SendResult:
    submission.state = FAILED
    submission.error = {"code": exc.code, "message": exc.message}
    submission.save()
    return SendResult(submission.id, submission.environment, FAILED, exc.message, code=exc.code)


def send(
    submission: Submission,
    *,
    progress: bool = True,
    on_progress: FileProgress | None = None,
    transfers: int = DEFAULT_TRANSFERS,
) -> SendResult:
    """Upload what is missing (``transfers`` files at once) and create the item; the
    queue file goes once it exists.

    An unreachable server leaves the submission queued; a refusal marks it failed (with
    the server's reason) so that ``koppel queue`` shows it. ``on_progress`` is called
    from the caller's thread, for one file at a time, with its index.
    """
    with claimed(submission.id) as mine:
        if not mine:
            return SendResult(
                submission.id, submission.environment, "busy", _("Another agent is sending it.")
            )
        try:
            return _send(submission, progress, on_progress, transfers)
        except ServerUnreachable as exc:
            submission.save()  # keep the progress made before the server went away
            return SendResult(
                submission.id, submission.environment, "queued", exc.message, code=exc.code
            )
        except AgentError as exc:
            return _fail(submission, exc)


def _send(
    submission: Submission, progress: bool, on_progress: FileProgress | None, transfers: int
) -> SendResult:
    state, env = find(submission.environment)
    token = token_of(state, env)
    with AgentClient(env.api_url) as client:
        try:
            _check_types(client, env.code, token, submission)
            UploadBatch(
                client,
                env.code,
                token,
                submission,
                transfers=transfers,
                progress=progress,
                on_progress=on_progress,
            ).run()
            timings.mark("transfer")  # the uploads (and the checks before them)
            request = CreateItemRequest(
                submission_id=submission.id,
                subject=submission.subject,
                type=submission.type,
                destination=submission.destination,
                uploads=[f.upload_id for f in submission.files if f.upload_id],
                date=datetime.fromisoformat(submission.date) if submission.date else None,
            )
            submission.item_requested = True
            submission.save()
            created = client.create_item(env.code, token, request)
        except ApiError as exc:
            raise explain(env.code, exc) from exc
    # Looked up on the module so that a test can make the agent die right here.
    queue.forget(submission)
    return SendResult(
        submission.id,
        submission.environment,
        "sent",
        (
            _("Item {number} created in {environment} (it already existed: sent before).")
            if created.existed
            else _("Item {number} created in {environment}.")
        ).format(number=created.item.id, environment=env.code),
        item=created.item.model_dump(mode="json"),
    )


def _check_types(client: AgentClient, environment: str, token: str, submission: Submission) -> None:
    """Refuse the whole submission before any byte when a file not sent yet is of a type
    the environment does not accept (it may have been queued offline, or the list may
    have changed since): it ends failed with the reason, never retried on its own."""
    waiting = [Path(f.name) for f in submission.files if f.state != "uploaded"]
    if waiting:
        check_types(waiting, environment, upload_rules(client, environment, token).extensions)


def _reachable(api_url: str) -> bool:
    try:
        with AgentClient(api_url) as client:
            client.info()
    except ServerUnreachable:
        return False
    except AgentError:
        return True
    return True


def send_pending(
    *,
    include_failed: bool = False,
    progress: bool = True,
    exclude: str | None = None,
    transfers: int = DEFAULT_TRANSFERS,
) -> list[SendResult]:
    """Send queued submissions, oldest first (``koppel queue send``, ``koppel watch``).

    Servers are probed once each: the submissions of an unreachable one stay queued
    without waiting for retries. ``include_failed`` also retries refused ones.
    """
    environments = state_mod.read().state.environments
    reachable: dict[str, bool] = {}
    results: list[SendResult] = []
    for submission in queue.load_all():
        if submission.id == exclude:
            continue
        if submission.state == FAILED and not include_failed:
            continue
        env = environments.get(submission.environment)
        if env is None:
            results.append(
                _fail(
                    submission,
                    AgentError(
                        _("{environment} is no longer linked here.").format(
                            environment=submission.environment
                        )
                    ),
                )
            )
            continue
        if env.api_url not in reachable:
            reachable[env.api_url] = _reachable(env.api_url)
        if not reachable[env.api_url]:
            results.append(
                SendResult(
                    submission.id,
                    submission.environment,
                    "queued",
                    _("The server of {environment} is unreachable.").format(
                        environment=submission.environment
                    ),
                    code="unreachable",
                )
            )
            continue
        submission.state = PENDING
        result = send(submission, progress=progress, transfers=transfers)
        if result.state == "queued":
            reachable[env.api_url] = False
        results.append(result)
    return results


def cancel(ident: str) -> tuple[Submission, bool]:
    """Forget a submission, deleting its unfinished uploads on the server when reachable.

    Returns the submission and whether the server was told (False when unreachable).
    """
    submission = queue.find(ident)
    with claimed(submission.id) as mine:
        if not mine:
            raise AgentError(
                _("Submission {id} is being sent right now; try again when it is done.").format(
                    id=submission.id
                )
            )
        told = True
        urls = [f.upload_url for f in submission.files if f.upload_url]
        if urls:
            try:
                state, env = find(submission.environment)
                token = token_of(state, env)
                with AgentClient(env.api_url) as client:
                    for url in urls:
                        client.delete_upload(token, url)
            except ServerUnreachable:
                told = False
            except AgentError:
                told = False
        queue.forget(submission)
    return submission, told
