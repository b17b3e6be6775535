"""Which file extensions may enter an environment: an allowlist per environment, checked
on every upload (tus creation, the portal's form, the integration push) before a byte is
kept, and by the agent before it sends one.

An environment whose list an administrator never changed uses :data:`DEFAULT_EXTENSIONS`
of this release; once changed (``koppel-admin extensions allow|remove``, the portal's
administration) it keeps its own list until it is reset. Environments that existed when
the list was introduced got the default plus the extensions already in their dossier
(migration 0009), as the product Koppel replaces prefilled its list.

A name is judged by its last extension (``invoice.pdf.exe`` is an ``exe``), in any case;
a name without an extension only where the administrator allowed "no extension".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from koppel.i18n import gettext as _
from koppel.protocol.errors import ErrorCode
from koppel.protocol.extensions import (
    NO_EXTENSION,
    NO_EXTENSION_WORD,
    extension_of,
    normalize_extension,
    shown,
    shown_list,
)
from koppel.server.domain.errors import DomainError
from koppel.server.domain.model import Environment

# What an accounting practice exchanges with its clients, and nothing a double click runs:
# office documents (the macro-enabled docm/xlsm too: clients' workbooks carry macros in
# .xls/.doc as well, so leaving them out would protect nothing), PDF, plain text and CSV,
# XML with the accounting exchange formats that are XML under their own extension (XBRL
# filings, the Dutch XML Auditfile Financieel .xaf; UBL invoices are .xml), scans and
# photos, saved e-mail, and zip/7z archives.
DEFAULT_EXTENSIONS: frozenset[str] = frozenset(
    {
        "pdf",
        "doc", "docx", "docm", "odt", "rtf", "txt",
        "xls", "xlsx", "xlsm", "ods", "csv",
        "ppt", "pptx", "odp",
        "xml", "xbrl", "xaf",
        "jpg", "jpeg", "png", "gif", "tif", "tiff", "heic", "bmp",
        "eml", "msg",
        "zip", "7z",
    }
)  # fmt: skip

# Extensions whose file runs code when opened (programs, scripts, installers, shortcuts,
# web pages, disk images that bypass download warnings). Never in the default; an
# administrator who allows one is warned.
RISKY_EXTENSIONS: frozenset[str] = frozenset(
    {
        "exe", "com", "scr", "pif", "cpl", "dll", "sys", "drv", "ocx",
        "msi", "msix", "msixbundle", "msp", "mst", "appx", "appxbundle", "application",
        "bat", "cmd", "ps1", "psm1", "psd1", "ps1xml", "vb", "vbs", "vbe", "js", "jse",
        "mjs", "wsf", "wsh", "wsc", "hta", "jar", "sh", "py", "pyw", "pl", "rb", "php",
        "html", "htm", "xhtml", "shtml", "mht", "mhtml", "svg", "svgz", "xht",
        "lnk", "url", "scf", "reg", "inf", "chm", "hlp", "msc", "gadget", "xll",
        "library-ms", "settingcontent-ms", "searchconnector-ms",
        "iso", "img", "vhd", "vhdx", "dmg", "pkg", "deb", "rpm", "apk",
        NO_EXTENSION,
    }
)  # fmt: skip


class ExtensionRepository(Protocol):
    """Storage of the environments' own lists (None: the environment uses the default)."""

    def allowed(self, environment_id: int, *, for_update: bool = False) -> frozenset[str] | None:
        """The environment's own list, or None when it uses the default; ``for_update``
        locks it (where the database can) for a change in the same transaction."""
        ...

    def save(self, environment_id: int, extensions: frozenset[str], at: datetime) -> None:
        """Store the environment's own list (replacing any earlier one)."""
        ...

    def forget(self, environment_id: int) -> bool:
        """Drop the environment's own list (it uses the default again); False when it had
        none."""
        ...


@dataclass(frozen=True)
class Allowlist:
    """The extensions one environment accepts."""

    environment: str
    extensions: frozenset[str]
    default: bool = False

    @classmethod
    def of_default(cls, environment: str) -> Allowlist:
        """The default list, for an environment that has none of its own."""
        return cls(environment, DEFAULT_EXTENSIONS, default=True)

    def permits(self, name: str) -> bool:
        """Whether a file of this name may be uploaded."""
        return extension_of(name) in self.extensions

    def ordered(self) -> list[str]:
        """The extensions sorted as shown ("no extension" last)."""
        return sorted(self.extensions, key=lambda e: (e == NO_EXTENSION, e))

    @property
    def risky(self) -> list[str]:
        """The allowed extensions whose files run code when opened."""
        return [e for e in self.ordered() if e in RISKY_EXTENSIONS]


@dataclass
class ExtensionNotAllowed(DomainError):
    """``extension_not_allowed``: carries the environment's list for the JSON answer."""

    allowed: tuple[str, ...] = field(default_factory=tuple)


def allowlist(store: ExtensionRepository, environment: Environment) -> Allowlist:
    """The extensions ``environment`` accepts now."""
    return allowlist_of(store, environment.id, environment.code)


def allowlist_of(store: ExtensionRepository, environment_id: int, code: str) -> Allowlist:
    """The extensions the environment with this id and code accepts now."""
    own = store.allowed(environment_id)
    return Allowlist.of_default(code) if own is None else Allowlist(code, own)


def allow_command(environment: str, extension: str) -> str:
    """The command that allows ``extension`` in ``environment``."""
    word = extension or NO_EXTENSION_WORD
    return f"koppel-admin extensions allow {environment} {word}"


def refusal(allowed: Allowlist, name: str) -> ExtensionNotAllowed:
    """The refusal of a file named ``name`` in ``allowed``'s environment: which files are
    accepted there, and whom to ask (with the command) for more."""
    code = allowed.environment
    extension = extension_of(name)
    what = (
        "files without an extension are"
        if extension == NO_EXTENSION
        else f"files ending in {shown(extension)} are"
    )
    accepted = shown_list(allowed.extensions)
    # English for the administrator's terminal (koppel-admin); the user's message is
    # translated below.
    refused = (
        f"{name!r} cannot be uploaded to {code}: {what} not accepted there. Accepted: {accepted}."
    )
    command = allow_command(code, extension)
    message = (
        _(
            "{name!r} cannot be uploaded to {code}: files without an extension are not "
            "accepted there. Accepted: {accepted}. If such files must be exchanged, ask the "
            "administrator of {code} to allow them (`{command}`)."
        )
        if extension == NO_EXTENSION
        else _(
            "{name!r} cannot be uploaded to {code}: files ending in {extension} are not "
            "accepted there. Accepted: {accepted}. If such files must be exchanged, ask the "
            "administrator of {code} to allow them (`{command}`)."
        )
    ).format(name=name, code=code, accepted=accepted, command=command, extension=shown(extension))
    return ExtensionNotAllowed(
        ErrorCode.EXTENSION_NOT_ALLOWED,
        message,
        environment=code,
        admin_message=f"{refused} If such files must be exchanged, allow them: `{command}`.",
        allowed=tuple(allowed.ordered()),
    )


def check(allowed: Allowlist, name: str) -> None:
    """Refuse a file whose extension the environment does not accept."""
    if not allowed.permits(name):
        raise refusal(allowed, name)


# --- administration (``Admin`` records each change in the audit log)


def parse(values: Iterable[str]) -> list[str]:
    """Extensions as an administrator gave them: each value one or more, separated by
    commas or spaces, with or without the dot, any case; ``.`` means "no extension".
    Refuses the whole input if one is not an extension, or if none is given."""
    found: list[str] = []
    for value in values:
        for word in value.replace(",", " ").split():
            extension = normalize_extension(word)
            if extension is None:
                raise DomainError(
                    ErrorCode.VALIDATION_ERROR,
                    _(
                        "{word!r} is not a file extension: give what follows the last dot of a "
                        "file name (e.g. pdf, or gz for .tar.gz), up to 32 letters, digits, "
                        "'_', '+', '-' or '~'; give {no_extension_word!r} for names without "
                        "one."
                    ).format(word=word, no_extension_word=NO_EXTENSION_WORD),
                )
            if extension not in found:
                found.append(extension)
    if not found:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Name at least one extension."))
    return found


def risk_note(extensions: Sequence[str]) -> str:
    """A warning for extensions whose files run code when opened ('' when none is)."""
    risky = [e for e in extensions if e in RISKY_EXTENSIONS]
    if not risky:
        return ""
    return " " + _(
        "Warning: {extensions} can run programs or scripts when opened; "
        "remove them again unless you are sure."
    ).format(extensions=shown_list(set(risky)))
