"""No user-facing string outside gettext in the code that speaks to people.

The catalogs' check (test_catalogs.py) proves every marked message is translated; this
test proves the messages are marked (test_portal_template_words.py does the same for the
templates). It reads the Python code with ``ast`` and looks where text reaches people:
what is printed or shown (``note``, ``error``, ``echo``, ``print``, Qt labels...), the
messages of the exceptions users see, and ``help=``/``message=``/``title=`` texts. A
literal sentence there fails unless it is wrapped in ``_``/``gettext``/``ngettext``/``N_``.

Outside its scope, by decision (docs/i18n.md): ``koppel-admin`` and ``koppel-server``'s
own command line (administrators' terminal tools, English), log lines, error codes, JSON.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "koppel"

# What is printed or shown by these calls is read by people.
SHOWN = {
    "note", "error", "echo", "secho", "print", "warn", "fail", "ask", "confirm", "prompt",
    "print_table", "progress", "notify", "setText", "setWindowTitle", "setToolTip",
    "addAction", "QLabel", "QPushButton", "QAction", "QCheckBox", "setPlaceholderText",
    "information", "warning", "critical", "question", "showMessage", "setStatusTip",
}  # fmt: skip
# Exceptions for programmers (a bug, an impossible state): their text is not for users.
PROGRAMMERS = {
    "ValueError", "TypeError", "KeyError", "RuntimeError", "AssertionError",
    "NotImplementedError", "AttributeError", "IndexError", "OSError", "SystemExit",
}  # fmt: skip
KEYWORDS = {"help", "message", "title", "text", "label", "notice", "epilog", "short_help"}
MARKERS = {"_", "gettext", "ngettext", "N_", "pgettext"}
SPOKEN = [SRC / "agent", SRC / "server" / "domain", SRC / "server" / "adapters" / "api",
          SRC / "server" / "adapters" / "http", SRC / "server" / "adapters" / "web"]  # fmt: skip
WORDS = re.compile(r"[A-Za-z]{2,}[^<>{}]*?[A-Za-z]{2,}|[A-Za-z]{3,}")
# Words that are the same in every language: names, units, codes.
SAME_EVERYWHERE = {"Koppel", "Communication Center", "InSite", "SHA-256", "MB", "KB", "GB",
                   "Nederlands", "Français", "English", "UTC", "TOTP", "CSV", "JSON"}  # fmt: skip


def _words(text: str) -> bool:
    for same in SAME_EVERYWHERE:
        text = text.replace(same, "")
    text = re.sub(r"&[a-z]+;|&#\d+;", " ", text)
    return bool(WORDS.search(text))


def _literal(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values if isinstance(v, ast.Constant))
    if isinstance(node, ast.BinOp):  # "..." + "..." or "..." % (...)
        return (_literal(node.left) or "") + (_literal(node.right) or "")
    return None


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _unmarked(node: ast.expr) -> str | None:
    text = _literal(node)
    # A sentence has spaces; a single word such as "too_large" is a code.
    return text if text is not None and " " in text.strip() and _words(text) else None


def _python_text(source: str) -> Iterator[str]:
    tree = ast.parse(source)
    # A line (or the comment line above it) may say why its text stays English:
    # "# untranslated: an engineers' trace".
    marked = [n for n, line in enumerate(source.splitlines(), 1) if "# untranslated:" in line]
    exempt = set(marked) | {n + 1 for n in marked}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            called = _name(node.func)
            if called in MARKERS or node.lineno in exempt or _logger(node.func):
                continue
            if called in SHOWN or (
                called.endswith(("Error", "Unreachable", "Refused", "Problem"))
                and called not in PROGRAMMERS
                and node.args
            ):
                for arg in node.args[:1] if called not in SHOWN else node.args:
                    if (text := _unmarked(arg)) is not None:
                        yield f"{node.lineno}: {called}({text!r})"
            for keyword in node.keywords:
                if keyword.arg in KEYWORDS and (text := _unmarked(keyword.value)) is not None:
                    yield f"{node.lineno}: {called}({keyword.arg}={text!r})"


def _logger(func: ast.expr) -> bool:
    # log.warning(...) writes a log line for administrators, not a message box.
    owner = func.value if isinstance(func, ast.Attribute) else None
    return _name(owner).lower().strip("_") in {"log", "logger", "logging"} if owner else False


def test_the_check_sees_unmarked_sentences() -> None:
    source = """
note("Saved the file.")
note(_("Saved the file."))
raise AgentError(f"{name} is not linked here.")
raise AgentError(_("{name} is not linked here.").format(name=name))
raise ValueError("a bug, for programmers")
typer.Option(help="Where to save it.")
FileRefused("too_large")
log.warning("request refused: over the limit")
print("trace written to %s" % path)  # untranslated: an engineers' trace
"""
    assert [line.split(":")[0] for line in _python_text(source)] == ["2", "4", "7"]


def test_what_people_read_in_the_code_goes_through_gettext() -> None:
    found = [
        f"{path.relative_to(SRC)}:{line}"
        for area in SPOKEN
        for path in sorted(area.rglob("*.py"))
        for line in _python_text(path.read_text(encoding="utf-8"))
    ]
    assert not found, "user-facing text outside gettext:\n" + "\n".join(found)
