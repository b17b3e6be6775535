"""Settings files (``*.koppel``) and bundles: what "Save settings" hands a user.

A settings file names one environment, the user, and a single-use enrollment code that
the agent exchanges for a user token. The server signs the document (HMAC over its
canonical JSON) so that an altered file is refused at linking time. A bundle holds the
settings files of many environments so that a whole practice links in one step.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, ValidationError

from koppel.i18n import N_
from koppel.i18n import gettext as _
from koppel.protocol._model import ProtocolModel
from koppel.protocol.errors import ErrorCode
from koppel.protocol.sizes import format_size
from koppel.protocol.updates import Update
from koppel.protocol.urls import url_problem

SETTINGS_FORMAT: Final = "koppel-settings/1"
BUNDLE_FORMAT: Final = "koppel-bundle/1"
SETTINGS_SUFFIX = ".koppel"
# A bundle of thousands of environments is a few MB; anything far larger is not ours.
MAX_FILE_BYTES = 64 * 1024 * 1024
# A bundle is four levels deep; more is not a settings file (and deep nesting is an
# attack on every recursive reader after this one).
MAX_DEPTH = 32

Model = TypeVar("Model", bound=BaseModel)


class SettingsFileError(ValueError):
    """A file that is not a readable settings file or bundle; ``problem`` is the part of
    the message that says what is wrong, without where it came from."""

    def __init__(self, message: str, problem: str = "") -> None:
        super().__init__(message)
        self.problem = problem or message


def shown(value: object, limit: int = 60) -> str:
    """A value as a message may quote it: its repr (control characters escaped), cut."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- the fields ------------------------------------------------------------------------------

_CODE = re.compile(r"[A-Z0-9][A-Z0-9_-]{1,31}", re.ASCII)
_LOGIN = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}", re.ASCII)
_UPDATE = re.compile(r"[0-9]{4}\.[0-9]{1,2}", re.ASCII)
_SECRET = re.compile(r"[A-Za-z0-9_:=+/.-]{0,200}", re.ASCII)
_REASON = re.compile(r"[a-z][a-z0-9_]{0,63}", re.ASCII)
_CONTROL = frozenset({"Cc", "Cs", "Zl", "Zp"})


def _matching(pattern: re.Pattern[str], message: str) -> AfterValidator:
    """Refuses a value ``pattern`` does not match with ``message`` (marked with ``N_``,
    translated when a value is checked)."""

    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(_(message).format(value=shown(value)))
        return value

    return AfterValidator(check)


def _plain_text(value: str) -> str:
    if any(unicodedata.category(char) in _CONTROL for char in value):
        raise ValueError(_("{value} contains control characters").format(value=shown(value)))
    return value


def _address(allow_query: bool) -> AfterValidator:
    def check(value: str) -> str:
        problem = url_problem(value, allow_query=allow_query)
        if problem:
            raise ValueError(
                _("{value} is not a usable address: {problem}").format(
                    value=shown(value), problem=problem
                )
            )
        return value

    return AfterValidator(check)


def _moment(value: Any) -> datetime:
    """An ISO 8601 time with its offset (as the server writes it), nothing looser: a
    number or a bare date is not a moment of this format."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value
    if isinstance(value, str) and len(value) <= 40:
        try:
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is not None:
                parsed.astimezone(UTC)  # representable in UTC (not past year 9999)
                return parsed
        except (ValueError, OverflowError):
            pass
    raise ValueError(
        _("{value} is not a time such as 2026-01-31T12:00:00Z").format(value=shown(value))
    )


EnvironmentCode = Annotated[
    str,
    _matching(
        _CODE, N_("{value} is not an environment code (2 to 32 letters, digits, '-' or '_')")
    ),
]
Login = Annotated[str, _matching(_LOGIN, N_("{value} is not a login"))]
UpdateText = Annotated[str, _matching(_UPDATE, N_("{value} is not an update such as 2026.2"))]
Secret = Annotated[str, _matching(_SECRET, N_("{value} is not in the form the server writes"))]
Text = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_plain_text)]
ApiUrl = Annotated[str, _address(allow_query=False)]
SiteUrl = Annotated[str, _address(allow_query=True)]
Moment = Annotated[datetime, BeforeValidator(_moment)]


def _known_reason(value: str) -> str:
    # An error code this agent does not know yet (a newer server's) stays text: the
    # list of skipped clients is there to be shown, never a reason to refuse a bundle.
    try:
        return ErrorCode(value)
    except ValueError:
        return value


# A reason code: an ErrorCode (as such when this agent knows it).
Reason = Annotated[
    str,
    _matching(_REASON, N_("{value} is not a reason code such as connector_blocked")),
    AfterValidator(_known_reason),
]
Sentence = Annotated[str, Field(min_length=1, max_length=2000), AfterValidator(_plain_text)]


# -- the documents ---------------------------------------------------------------------------


class SettingsEnvironment(ProtocolModel):
    """The environment a settings file links to."""

    code: EnvironmentCode
    name: Text
    kind: Literal["firm", "client"]
    update: UpdateText
    api_url: ApiUrl
    main_site_url: SiteUrl


class SettingsUser(ProtocolModel):
    """The user the settings file was saved for."""

    login: Login
    display_name: Text


class Enrollment(ProtocolModel):
    """The single-use code that linking exchanges for a user token."""

    code: Annotated[Secret, Field(min_length=1)]
    expires: Moment


class SettingsFile(ProtocolModel):
    """One environment's settings, as saved by "Save settings"."""

    format: Literal["koppel-settings/1"] = SETTINGS_FORMAT
    environment: SettingsEnvironment
    user: SettingsUser
    enrollment: Enrollment
    issued: Moment
    signature: Secret = ""

    @property
    def update(self) -> Update:
        """The environment's update as recorded in the file."""
        return Update.parse(self.environment.update)


class BundleHeader(ProtocolModel):
    """What a bundle says besides its settings: the firm, the user, when."""

    format: Literal["koppel-bundle/1"] = BUNDLE_FORMAT
    firm: EnvironmentCode
    user: SettingsUser
    issued: Moment


class SkippedEnvironment(ProtocolModel):
    """A client environment of the firm that a bundle leaves out, and why.

    The fields of an ``ErrorDetail`` plus the environment's name: ``code`` is the first
    reason, ``message`` states every reason and who must do what.
    """

    environment: EnvironmentCode
    # Absent only in bundles of servers that did not write it yet.
    name: Text | None = None
    code: Reason
    message: Sentence


class BundleSkipped(ProtocolModel):
    """The part of a bundle that says which client environments it leaves out."""

    skipped: list[SkippedEnvironment] = Field(default_factory=list)


class SettingsBundle(BundleHeader, BundleSkipped):
    """The settings files of every client environment a firm user may link, and every
    client environment of the firm it leaves out (``skipped``), each with its reason."""

    settings: list[SettingsFile]


@dataclass(frozen=True)
class SettingsContents:
    """What a settings file or bundle holds: the settings documents as issued (raw dicts,
    so that their signatures still cover them) and the environments a bundle left out."""

    documents: list[dict[str, Any]]
    skipped: list[SkippedEnvironment]


class EmptyBundleError(SettingsFileError):
    """A bundle without any settings; ``skipped`` says why each client was left out."""

    def __init__(self, message: str, skipped: list[SkippedEnvironment]) -> None:
        super().__init__(message)
        self.skipped = skipped


def canonical_bytes(document: dict[str, Any]) -> bytes:
    """The bytes a signature covers: the document without its signature, keys sorted."""
    unsigned = {key: value for key, value in document.items() if key != "signature"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def read_documents(raw: bytes, source: str = "the file") -> list[dict[str, Any]]:
    """Return the settings documents in a settings file or bundle, as the raw dicts
    (see ``read_settings``)."""
    return read_settings(raw, source).documents


def read_settings(raw: bytes, source: str = "the file") -> SettingsContents:
    """Return the settings documents of a settings file or bundle, and what a bundle left out.

    The raw dicts are what the agent sends back to the server, so the signature is
    checked over exactly what the server issued. Anything else, however broken (not
    JSON, nested without end, lone surrogates, wrong types, huge values), is a
    SettingsFileError whose message is one line; a bundle without settings is an
    EmptyBundleError that carries the reasons.
    """
    data = _load(raw, source)
    if not isinstance(data, dict):
        raise _unreadable(source, _("it holds no settings document (a JSON object)"))
    kind = data.get("format")
    documents: list[Any]
    skipped: list[SkippedEnvironment] = []
    if kind == SETTINGS_FORMAT:
        documents = [data]
    elif kind == BUNDLE_FORMAT:
        _validate(BundleHeader, data, source)
        found = data.get("settings")
        if not isinstance(found, list):
            raise _unreadable(source, _("it is a bundle without a list of settings"))
        if not isinstance(data.get("skipped", []), list):
            raise _unreadable(source, _("its list of skipped environments is not a list"))
        skipped = _validate(BundleSkipped, {"skipped": data.get("skipped", [])}, source).skipped
        if not found:
            raise EmptyBundleError(
                _(
                    "{source} is an empty bundle: none of the firm's client environments "
                    "could be included."
                ).format(source=_(source)),
                skipped,
            )
        documents = found
    else:
        raise SettingsFileError(
            _(
                "{source} has format {kind}; this agent reads {settings!r} and {bundle!r}. "
                "Save the settings again, or install a newer agent."
            ).format(
                source=_(source), kind=shown(kind), settings=SETTINGS_FORMAT, bundle=BUNDLE_FORMAT
            )
        )
    for index, document in enumerate(documents):
        where = (
            source
            if len(documents) == 1
            else _("{source} (settings {number})").format(source=_(source), number=index + 1)
        )
        parse_settings(document, where)
    return SettingsContents([dict(document) for document in documents], skipped)


def parse_settings(document: Any, source: str = "the file") -> SettingsFile:
    """Validate one settings document; raise SettingsFileError naming what is wrong."""
    return _validate(SettingsFile, document, source)


def environment_problem(environment: dict[str, Any]) -> str | None:
    """What makes an environment's recorded details unusable in a settings file (as
    ``name: ...``), or None when a settings file can carry them."""
    try:
        SettingsEnvironment.model_validate(environment)
    except ValidationError as exc:
        return _first_problem(exc)
    return None


def _validate(model: type[Model], document: Any, source: str) -> Model:
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        problem = _first_problem(exc)
        raise SettingsFileError(
            _(
                "{source} is damaged or incomplete ({problem}). "
                "Save the settings again from your environment."
            ).format(source=_(source), problem=problem),
            problem,
        ) from exc


def _unreadable(source: str, problem: str) -> SettingsFileError:
    return SettingsFileError(
        _(
            "{source} is not a usable Koppel settings file: {problem}. Save the settings "
            "again from your environment."
        ).format(source=_(source), problem=problem),
        problem,
    )


# Where a settings file came from, as the agent names it when it is no file name: marked
# for translation, translated where a message shows it (``_(source)``: a file name is
# shown as it is).
SOURCES = (N_("the file"), N_("the server's answer"))


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _load(raw: bytes, source: str) -> Any:
    """The JSON of a settings file, or SettingsFileError (never another exception)."""
    if len(raw) > MAX_FILE_BYTES:
        raise _unreadable(
            source, _("it is larger than {size}").format(size=format_size(MAX_FILE_BYTES))
        )
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise _unreadable(source, _("it is nested too deeply")) from None
    except json.JSONDecodeError as exc:
        raise _unreadable(
            source,
            _("not JSON ({problem} at line {line}, column {column})").format(
                problem=exc.msg, line=exc.lineno, column=exc.colno
            ),
        ) from None
    except UnicodeDecodeError:
        raise _unreadable(source, _("it is not UTF-8 text")) from None
    except ValueError:  # a number of thousands of digits, NaN, Infinity
        raise _unreadable(source, _("it holds a number JSON settings never have")) from None
    problem = _tree_problem(data)
    if problem:
        raise _unreadable(source, problem)
    return data


def _tree_problem(data: Any) -> str | None:
    """Depth and text of every value, without recursion (the depth is what is checked)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return _("it is nested too deeply")
        if isinstance(value, str):
            if not _is_unicode(value):
                return _("it contains text that is not valid Unicode (a lone surrogate)")
        elif isinstance(value, dict):
            for key, inner in value.items():
                if not _is_unicode(key):
                    return _("it contains text that is not valid Unicode (a lone surrogate)")
                stack.append((inner, depth + 1))
        elif isinstance(value, list):
            stack.extend((inner, depth + 1) for inner in value)
    return None


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
