"""``koppel submit``: check the files, queue the submission, send it (and older ones).

Every check that can refuse comes before any byte is sent: each file readable, not empty,
safely named (the shared rules of :mod:`koppel.protocol.filenames`), within the server's
limit and of a type the environment accepts (``GET upload-rules``), the destination and
the type known. One file refused refuses the whole submission. Then the submission is
written to the queue; when the server cannot be reached it stays there (and the server
checks the file types when it is sent).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from koppel.agent import queue
from koppel.agent.errors import AgentError, ApiError, ServerUnreachable
from koppel.agent.exit_codes import ExitCode
from koppel.protocol.dossier_setup import NO_DESTINATIONS, NO_ITEM_TYPES, not_set_up
from koppel.protocol.extensions import NO_EXTENSION, extension_of, shown, shown_list
from koppel.protocol.filenames import unsafe_reason
from koppel.protocol.sizes import format_size_exact
from koppel.protocol.uploads import DEFAULT_MAX_UPLOAD_BYTES

if TYPE_CHECKING:
    from koppel.agent.client import AgentClient


class FileRefused(AgentError):
    """A file cannot be submitted; nothing was sent."""

    exit_code = ExitCode.FILE_REFUSED

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_file(path: Path, limit: int | None) -> None:
    """Refuse a file that cannot be submitted as it is (before any byte is sent)."""
    reason = unsafe_reason(path.name)
    if reason:
        raise FileRefused(
            "unsafe_name", f"The file name {path.name!r} cannot be used: {reason}. Rename it."
        )
    try:
        if not path.is_file():
            raise FileRefused("unreadable", f"{path} is not a file.")
        with path.open("rb") as handle:
            handle.read(1)
        size = path.stat().st_size
    except OSError as exc:
        raise FileRefused("unreadable", f"{path} cannot be read ({exc.strerror or exc}).") from exc
    if size == 0:
        raise FileRefused("empty_file", f"{path} is empty; there is nothing to submit.")
    if limit is not None and size > limit:
        raise FileRefused(
            "too_large",
            f"{path.name} has {format_size_exact(size)}; the server accepts at most "
            f"{format_size_exact(limit)} per file.",
        )


@dataclass(frozen=True)
class Rules:
    """What the environment accepts: the size limit, and the extensions (None: unknown,
    from a server without ``upload-rules``; it checks them itself on upload)."""

    max_bytes: int
    extensions: frozenset[str] | None


def upload_rules(client: AgentClient, environment: str, token: str) -> Rules:
    """The environment's upload rules (``GET upload-rules``); from a server that lacks the
    route, its tus size limit alone."""
    from koppel.agent import tus
    from koppel.agent.client import env_path, parse_model
    from koppel.protocol.dossier import UploadRules

    try:
        response = client.request("GET", env_path(environment, "upload-rules"), token=token)
    except ApiError as exc:
        if exc.status != 404 or exc.code != "not_found":
            raise
        return Rules(tus.server_limit(client, environment, token) or DEFAULT_MAX_UPLOAD_BYTES, None)
    rules = parse_model(UploadRules, response.content, client.base_url)
    return Rules(rules.max_bytes, frozenset(rules.allowed_extensions))


def check_types(paths: list[Path], environment: str, allowed: frozenset[str] | None) -> None:
    """Refuse the submission when a file's type is not accepted in ``environment`` (its
    last extension decides, in any case): one line naming every such file and the list."""
    if allowed is None:
        return
    refused = [p.name for p in paths if extension_of(p.name) not in allowed]
    if not refused:
        return
    kinds = sorted({extension_of(name) for name in refused}, key=lambda k: (not k, k))
    what = ", ".join(
        "files without an extension" if k == NO_EXTENSION else f"{shown(k)} files" for k in kinds
    )
    names = ", ".join(repr(name) for name in refused)
    words = " ".join(k or "." for k in kinds)
    raise FileRefused(
        "extension_not_allowed",
        f"{names} cannot be submitted to {environment}: {what} are not accepted there "
        f"(accepted: {shown_list(allowed)}). Nothing was sent. Ask the administrator of "
        f"{environment} to allow them (`koppel-admin extensions allow {environment} {words}`).",
    )


def eml_header(path: Path) -> tuple[str | None, str | None]:
    """The Subject and Date (ISO 8601) of an e-mail message file, when it has them."""
    import email
    import email.policy

    try:
        with path.open("rb") as handle:
            message = email.message_from_binary_file(handle, policy=email.policy.default)
    except (OSError, ValueError):
        return None, None
    subject = str(message.get("subject") or "").strip() or None
    date: str | None = None
    header = message.get("date")
    moment = getattr(header, "datetime", None) if header is not None else None
    if moment is not None:
        date = moment.isoformat()
    return subject, date


def default_subject(paths: list[Path]) -> str:
    """A subject from the file names when none is given."""
    first = paths[0].name
    return first if len(paths) == 1 else f"{first} and {len(paths) - 1} more"


@dataclass
class Outcome:
    """What ``koppel submit`` did."""

    submission: queue.Submission
    result: queue.SendResult
    earlier: list[queue.SendResult] = field(default_factory=list)

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


def _check_names(found: list[str], wanted: str, what: str) -> str:
    for name in found:
        if name.lower() == wanted.lower():
            return name
    raise AgentError(
        f"There is no {what} {wanted!r}; choose one of: {', '.join(found) or '(none)'}.",
        ExitCode.USAGE,
    )


def _server_checks(
    client: Any, code: str, token: str, paths: list[Path], destination: str, type_name: str
) -> tuple[str, str]:
    from koppel.agent.client import env_path

    rules = upload_rules(client, code, token)
    for path in paths:
        check_file(path, rules.max_bytes)
    check_types(paths, code, rules.extensions)
    destinations = client.request("GET", env_path(code, "destinations"), token=token).json()
    types = client.request("GET", env_path(code, "item-types"), token=token).json()
    if not destinations or not types:
        raise NotSetUp(code, not destinations, not types)
    destination = _check_names([d["code"] for d in destinations], destination, "destination")
    type_name = _check_names([t["name"] for t in types], type_name, "item type")
    return destination, type_name


def submit(
    files: list[Path],
    *,
    destination: str,
    type_name: str,
    subject: str | None,
    env: str | None,
    progress: bool = True,
) -> Outcome:
    """Check, queue and send one submission (after older queued ones)."""
    from koppel.agent.choose import choose
    from koppel.agent.client import AgentClient
    from koppel.agent.environment import explain

    target = choose(env)
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
    emails = [p for p in paths if p.suffix.lower() == ".eml"]
    if emails:
        found_subject, date = eml_header(emails[0])
        subject = subject or found_subject
    submission = queue.Submission.new(
        code, destination, type_name, subject or default_subject(paths), paths, date
    )
    submission.save()  # first: whatever happens next, it can be resumed
    if not online:
        return Outcome(
            submission,
            queue.SendResult(
                submission.id,
                code,
                "queued",
                f"The server of {code} is unreachable; the submission is queued. Send it "
                "later with `koppel queue send`.",
                code="unreachable",
            ),
        )
    earlier = queue.send_pending(progress=progress, exclude=submission.id)
    result = queue.send(submission, progress=progress)
    if result.state == "queued":
        result.message = (
            f"{result.message} The submission is queued; send it later with `koppel queue send`."
        )
    return Outcome(submission, result, earlier)
