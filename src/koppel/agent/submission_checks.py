"""The checks a submission passes before any byte is sent: each file readable, not
empty, safely named (the shared rules of :mod:`koppel.protocol.filenames`), within the
server's limit and of a type the environment accepts (``GET upload-rules``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from koppel.agent.api import AgentClient
from koppel.agent.errors import AgentError
from koppel.agent.exit_codes import ExitCode
from koppel.i18n import gettext as _
from koppel.protocol.extensions import NO_EXTENSION, extension_of, shown, shown_list
from koppel.protocol.filenames import unsafe_reason
from koppel.protocol.sizes import format_size_exact
from koppel.protocol.uploads import DEFAULT_MAX_UPLOAD_BYTES


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
            "unsafe_name",
            _("The file name {name} cannot be used: {reason}. Rename it.").format(
                name=repr(path.name), reason=reason
            ),
        )
    try:
        if not path.is_file():
            raise FileRefused("unreadable", _("{path} is not a file.").format(path=path))
        with path.open("rb") as handle:
            handle.read(1)
        size = path.stat().st_size
    except OSError as exc:
        raise FileRefused(
            "unreadable",
            _("{path} cannot be read ({reason}).").format(path=path, reason=exc.strerror or exc),
        ) from exc
    if size == 0:
        raise FileRefused(
            "empty_file", _("{path} is empty; there is nothing to submit.").format(path=path)
        )
    if limit is not None and size > limit:
        raise FileRefused(
            "too_large",
            _("{name} has {size}; the server accepts at most {limit} per file.").format(
                name=path.name, size=format_size_exact(size), limit=format_size_exact(limit)
            ),
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
    rules = client.upload_rules(environment, token)
    if rules is None:
        return Rules(client.upload_limit(environment, token) or DEFAULT_MAX_UPLOAD_BYTES, None)
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
        _("files without an extension")
        if k == NO_EXTENSION
        else _("{extension} files").format(extension=shown(k))
        for k in kinds
    )
    names = ", ".join(repr(name) for name in refused)
    words = " ".join(k or "." for k in kinds)
    raise FileRefused(
        "extension_not_allowed",
        _(
            "{names} cannot be submitted to {environment}: {kinds} are not accepted there "
            "(accepted: {accepted}). Nothing was sent. Ask the administrator of "
            "{environment} to allow them (`koppel-admin extensions allow {environment} "
            "{extensions}`)."
        ).format(
            names=names,
            environment=environment,
            kinds=what,
            accepted=shown_list(allowed),
            extensions=words,
        ),
    )
