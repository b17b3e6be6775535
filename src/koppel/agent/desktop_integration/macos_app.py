"""The ``koppel://`` handler on macOS: a small application bundle, generated and
registered by ``koppel handler install`` (nobody builds it by hand).

macOS hands a URL to an *application*, never to a command line: Launch Services starts
the app that declares the scheme in ``CFBundleURLTypes`` and then sends it the link as a
``kInternetEventClass``/``kAEGetURL`` ('GURL') Apple Event. The link is not in ``argv``.
A bundle whose executable is a shell or Python script is started, but has no Apple Event
loop, so the link never reaches it (docs/desktop-integration.md explains the choice).
The smallest executable that does receive the event and ships with every macOS is the
AppleScript applet stub: ``osacompile`` builds it from a generated two-line
``on open location`` handler, which runs ``koppel open-link URL``. Then this module adds
the scheme and a bundle identifier to its Info.plist, re-seals it with an ad-hoc
signature (the plist is part of the seal on Apple silicon) and registers it with
``lsregister -f``.

Nothing here runs on Linux: the tests check the script, the plist and the commands
against a fake runner.
"""

from __future__ import annotations

import plistlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from koppel.agent.desktop_integration.launcher import Runner
from koppel.i18n import gettext as _
from koppel.protocol.links import SCHEME

APP_NAME = "Koppel Link Handler.app"
BUNDLE_ID = "org.koppel.link-handler"
# Where this agent records the koppel it registered, for `koppel handler status`.
EXECUTABLE_KEY = "KoppelExecutable"
LSREGISTER = (
    "/System/Library/Frameworks/CoreServices.framework/Frameworks/"
    "LaunchServices.framework/Support/lsregister"
)
# Launch Services' per-user choices of default handlers.
LS_HANDLERS = "Library/Preferences/com.apple.LaunchServices/com.apple.launchservices.secure.plist"


def app_path(home: Path) -> Path:
    """``~/Applications/Koppel Link Handler.app``."""
    return home / "Applications" / APP_NAME


def _applescript_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def applet_source(koppel: Path) -> str:
    """The AppleScript the applet runs for a link: ``koppel open-link URL`` in the
    background (the edit can last; the applet quits at once)."""
    return (
        "on open location theURL\n"
        f"\tdo shell script quoted form of {_applescript_string(str(koppel))} & "
        '" open-link " & quoted form of theURL & " > /dev/null 2>&1 &"\n'
        "end open location\n"
    )


def info_plist_additions(koppel: Path) -> dict[str, Any]:
    """What the generated applet's Info.plist gets besides what ``osacompile`` wrote."""
    return {
        "CFBundleIdentifier": BUNDLE_ID,
        "CFBundleName": "Koppel Link Handler",
        "CFBundleURLTypes": [{"CFBundleURLName": "Koppel link", "CFBundleURLSchemes": [SCHEME]}],
        # No Dock icon while the applet hands a link over.
        "LSUIElement": True,
        EXECUTABLE_KEY: str(koppel),
    }


@dataclass
class AppState:
    """What the bundle and Launch Services say."""

    app: Path
    exists: bool
    declares_scheme: bool
    executable: str | None
    default_handler: str | None  # the bundle id chosen in Launch Services' settings


def install(home: Path, koppel: Path, runner: Runner) -> list[str]:
    """Build, seal and register the applet; returns what was done. Raises ``OSError``
    with the tool's words when ``osacompile`` fails."""
    app = app_path(home)
    done: list[str] = []
    if app.exists():
        shutil.rmtree(app)
    app.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "koppel-link-handler.applescript"
        source.write_text(applet_source(koppel), encoding="utf-8")
        code, output = runner(["osacompile", "-o", str(app), str(source)])
    if code != 0:
        raise OSError(
            _("osacompile could not build {app}: {reason}").format(
                app=app, reason=output or _("exit code {code}").format(code=code)
            )
        )
    done.append(_("built {app} (runs {koppel} open-link URL)").format(app=app, koppel=koppel))
    plist = app / "Contents" / "Info.plist"
    with plist.open("rb") as handle:
        info = plistlib.load(handle)
    info.update(info_plist_additions(koppel))
    with plist.open("wb") as handle:
        plistlib.dump(info, handle)
    done.append(_("declared {scheme}:// links in {plist}").format(scheme=SCHEME, plist=plist))
    code, output = runner(["codesign", "--force", "--sign", "-", str(app)])
    if code == 0:
        done.append(_("sealed it with an ad-hoc signature"))
    code, output = runner([LSREGISTER, "-f", str(app)])
    if code != 0:
        raise OSError(
            _("lsregister could not register {app}: {reason}").format(
                app=app, reason=output or _("exit code {code}").format(code=code)
            )
        )
    done.append(_("registered it with Launch Services (lsregister -f)"))
    return done


def _default_handler(home: Path) -> str | None:
    try:
        with (home / LS_HANDLERS).open("rb") as handle:
            handlers = plistlib.load(handle).get("LSHandlers", [])
    except (OSError, plistlib.InvalidFileException, AttributeError):
        return None
    for entry in handlers:
        if isinstance(entry, dict) and entry.get("LSHandlerURLScheme") == SCHEME:
            chosen = entry.get("LSHandlerRoleAll")
            return str(chosen) if chosen else None
    return None


def state(home: Path) -> AppState:
    """Read the bundle's Info.plist and the user's Launch Services choices."""
    app = app_path(home)
    info: dict[str, Any] = {}
    try:
        with (app / "Contents" / "Info.plist").open("rb") as handle:
            info = plistlib.load(handle)
    except (OSError, plistlib.InvalidFileException):
        pass
    schemes = [
        scheme
        for kind in info.get("CFBundleURLTypes", [])
        for scheme in kind.get("CFBundleURLSchemes", [])
    ]
    executable = info.get(EXECUTABLE_KEY)
    return AppState(
        app=app,
        exists=app.is_dir(),
        declares_scheme=SCHEME in schemes,
        executable=str(executable) if executable else None,
        default_handler=_default_handler(home),
    )


def uninstall(home: Path, runner: Runner) -> list[str]:
    """Unregister and delete the applet."""
    app = app_path(home)
    if not app.exists():
        return [_("{app} did not exist").format(app=app)]
    runner([LSREGISTER, "-u", str(app)])
    shutil.rmtree(app)
    return [_("unregistered and removed {app}").format(app=app)]
