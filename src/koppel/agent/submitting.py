"""``koppel submit``: check the files, queue the submission, send it (and older ones).

Every check that can refuse comes before any byte is sent: each file readable, not empty,
safely named (the shared rules of :mod:`koppel.protocol.filenames`), within the server's
limit and of a type the environment accepts (``GET upload-rules``), the destination and
the type known. One file refused refuses the whole submission. Then the submission is
written to the queue; when the server cannot be reached it stays there (and the server
checks the file types when it is sent).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from koppel.agent import timings
from koppel.agent.api import AgentClient
from koppel.agent.choose import choose
from koppel.agent.environments import explain
from koppel.agent.errors import AgentError, ApiError, ServerUnreachable
from koppel.agent.exit_codes import ExitCode
from koppel.agent.local.queue import Submission
from koppel.agent.mail_files import MAIL_SUFFIXES, mail_header
from koppel.agent.mail_files import eml_header as eml_header  # where it was first
from koppel.agent.sending import FileProgress, SendResult, send, send_pending
from koppel.agent.submission_checks import check_file, check_types, upload_rules
from koppel.agent.transfers import DEFAULT_TRANSFERS
from koppel.i18n import N_, ngettext
from koppel.i18n import gettext as _
from koppel.protocol.dossier_setup import NO_DESTINATIONS, NO_ITEM_TYPES, not_set_up
from koppel.protocol.uploads import DEFAULT_MAX_UPLOAD_BYTES


def default_subject(paths: list[Path]) -> str:
    """A subject from the file names when none is given."""
    first = paths[0].name
    if len(paths) == 1:
        return first
    more = len(paths) - 1
    return ngettext("{first} and {n} more", "{first} and {n} more", more).format(
        first=first, n=more
    )


@dataclass
class Outcome:
    """What ``koppel submit`` did."""

    submission: Submission
    result: SendResult
    earlier: list[SendResult] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """For ``--json``."""
        return {
            "submission": self.submission.id,
            "environment": self.submission.environment,
            **{k: v for k, v in self.result.as_json().items() if k not in ("id", "environment")},
            "earlier": [r.as_json() for r in self.earlier],
        }


class NotSetUp(AgentError):
    """The environment has no destinations or no item types the user may use: only its
    administrator can fix that (the server's ``no_destinations`` / ``no_item_types``)."""

    exit_code = ExitCode.REFUSED

    def __init__(self, environment: str, destinations: bool, item_types: bool) -> None:
        super().__init__(
            not_set_up(
                environment, destinations=destinations, item_types=item_types, for_caller=True
            )
        )
        self.code = NO_DESTINATIONS if destinations else NO_ITEM_TYPES
        self.environment = environment

    def as_json(self) -> dict[str, Any]:
        """The error with the environment it concerns."""
        return {**super().as_json(), "environment": self.environment}


_NO_SUCH = {
    "destination": N_("There is no destination {wanted}; choose one of: {choices}."),
    "item type": N_("There is no item type {wanted}; choose one of: {choices}."),
}


def _check_names(found: list[str], wanted: str, what: str) -> str:
    for name in found:
        if name.lower() == wanted.lower():
            return name
    choices = ", ".join(found) or _("(none)")
    raise AgentError(
        _(_NO_SUCH[what]).format(wanted=repr(wanted), choices=choices),
        ExitCode.USAGE,
    )


def _server_checks(
    client: AgentClient,
    code: str,
    token: str,
    paths: list[Path],
    destination: str,
    type_name: str,
) -> tuple[str, str]:
    # Three independent questions: asked at once over the client's kept-alive
    # connections, they cost one round trip instead of three.
    with ThreadPoolExecutor(max_workers=3) as pool:
        asked_rules = pool.submit(upload_rules, client, code, token)
        asked_destinations = pool.submit(client.destinations, code, token)
        asked_types = pool.submit(client.item_types, code, token)
        rules = asked_rules.result()
        for path in paths:
            check_file(path, rules.max_bytes)
        check_types(paths, code, rules.extensions)
        destinations, types = asked_destinations.result(), asked_types.result()
    if not destinations or not types:
        raise NotSetUp(code, not destinations, not types)
    destination = _check_names([d.code for d in destinations], destination, "destination")
    type_name = _check_names([t.name for t in types], type_name, "item type")
    return destination, type_name


def _how_the_queue_leaves() -> str:
    """What happens next to a queued submission: the background agent sends it by
    itself when it runs; else it waits for `koppel queue send` (or the agent)."""
    from koppel.agent.background import find_running

    if find_running() is not None:
        return _("The Koppel agent of this computer sends it as soon as the server answers.")
    return _(
        "Send it later with `koppel queue send`, or start the Koppel agent "
        "(`koppel agent run`) to have it sent by itself."
    )


def submit(
    files: list[Path],
    *,
    destination: str,
    type_name: str,
    subject: str | None,
    env: str | None,
    progress: bool = True,
    on_progress: FileProgress | None = None,
    transfers: int = DEFAULT_TRANSFERS,
) -> Outcome:
    """Check, queue and send one submission (after older queued ones), ``transfers``
    files at once; ``on_progress`` follows each of its files (the submit window's bars)."""
    target = choose(env)
    timings.mark("token read")
    code = target.env.code
    paths = [Path(f).expanduser() for f in files]
    for path in paths:  # local checks first: they need no server
        check_file(path, None)
    online = True
    try:
        with AgentClient(target.env.api_url) as client:
            destination, type_name = _server_checks(
                client, code, target.token, paths, destination, type_name
            )
    except ServerUnreachable:
        online = False
        for path in paths:  # the server's limit is unknown: hold to the default one
            check_file(path, DEFAULT_MAX_UPLOAD_BYTES)
    except ApiError as exc:
        raise explain(code, exc) from exc
    date: str | None = None
    emails = [p for p in paths if p.suffix.lower() in MAIL_SUFFIXES]
    if emails:
        found_subject, date = mail_header(emails[0])
        subject = subject or found_subject
    submission = Submission.new(
        code, destination, type_name, subject or default_subject(paths), paths, date
    )
    timings.mark("request")  # the server's checks
    submission.save()  # first: whatever happens next, it can be resumed
    timings.mark("fsync")  # the queue entry, durable
    if not online:
        return Outcome(
            submission,
            SendResult(
                submission.id,
                code,
                "queued",
                _(
                    "The server of {environment} is unreachable; the submission is queued. {next}"
                ).format(environment=code, next=_how_the_queue_leaves()),
                code="unreachable",
            ),
        )
    earlier = send_pending(progress=progress, exclude=submission.id, transfers=transfers)
    result = send(submission, progress=progress, on_progress=on_progress, transfers=transfers)
    timings.mark("request")  # creating the item (its upload marked "transfer")
    if result.state == "queued":
        result.message = _("{reason} The submission is queued. {next}").format(
            reason=result.message, next=_how_the_queue_leaves()
        )
    return Outcome(submission, result, earlier)
