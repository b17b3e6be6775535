""" "Send to Koppel" on macOS: a Quick Action (a Service), the bundle Automator saves as
``~/Library/Services/Send to Koppel.workflow``. ``Contents/Info.plist`` declares the
service for files in Finder (``NSServices``); ``Contents/document.wflow`` is the workflow:
one "Run Shell Script" action that receives the files as arguments and runs
``koppel submit --gui FILES…`` in the background (the menu bar spinner stops at once).

Nothing here runs on Linux: the tests compare both files with golden copies.
"""

from __future__ import annotations

import plistlib
import shlex
import uuid
from pathlib import Path
from typing import Any

from koppel.agent.desktop_integration.send_to_linux import NAME
from koppel.i18n import DEFAULT_LANGUAGE, LANGUAGES, translations

WORKFLOW = f"{NAME}.workflow"
# Makes Finder pick up a new or removed service without logging out.
PBS = "/System/Library/CoreServices/pbs"
RUN_SHELL_SCRIPT = "/System/Library/Automator/Run Shell Script.action"
AS_ARGUMENTS = 1  # the action's "Pass input: as arguments"


def workflow_path(home: Path) -> Path:
    """``~/Library/Services/Send to Koppel.workflow``."""
    return home / "Library" / "Services" / WORKFLOW


def shell_command(koppel: Path) -> str:
    """The action's script."""
    return f'{shlex.quote(str(koppel))} submit --gui "$@" > /dev/null 2>&1 &\n'


def info_plist() -> dict[str, Any]:
    """The bundle's Info.plist: one service, for any file or folder selected in Finder."""
    return {
        "NSServices": [
            {
                "NSMenuItem": {"default": NAME},
                "NSMessage": "runWorkflowAsService",
                "NSRequiredContext": {"NSApplicationIdentifier": "com.apple.finder"},
                "NSSendFileTypes": ["public.item"],
            }
        ]
    }


def _uuid(role: str) -> str:
    # Stable identifiers: the same agent writes the same workflow (and a golden file).
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"koppel:send-to-koppel:{role}")).upper()


def document(koppel: Path) -> dict[str, Any]:
    """The workflow document (the keys Automator writes for a one-action Quick Action)."""
    strings = {"Container": "List", "Types": ["com.apple.cocoa.string"]}
    return {
        "AMApplicationBuild": "523",
        "AMApplicationVersion": "2.10",
        "AMDocumentVersion": "2",
        "actions": [
            {
                "action": {
                    "AMAccepts": {**strings, "Optional": True},
                    "AMActionVersion": "2.0.3",
                    "AMApplication": ["Automator"],
                    "AMParameterProperties": {
                        key: {}
                        for key in (
                            "COMMAND_STRING",
                            "CheckedForUserDefaultShell",
                            "inputMethod",
                            "shell",
                            "source",
                        )
                    },
                    "AMProvides": strings,
                    "ActionBundlePath": RUN_SHELL_SCRIPT,
                    "ActionName": "Run Shell Script",
                    "ActionParameters": {
                        "COMMAND_STRING": shell_command(koppel),
                        "CheckedForUserDefaultShell": True,
                        "inputMethod": AS_ARGUMENTS,
                        "shell": "/bin/sh",
                        "source": "",
                    },
                    "BundleIdentifier": "com.apple.RunShellScript",
                    "CFBundleVersion": "2.0.3",
                    "CanShowSelectedItemsWhenRun": False,
                    "CanShowWhenRun": True,
                    "Category": ["AMCategoryUtilities"],
                    "Class Name": "RunShellScriptAction",
                    "InputUUID": _uuid("input"),
                    "Keywords": ["Shell", "Script", "Command", "Run", "Unix"],
                    "OutputUUID": _uuid("output"),
                    "UUID": _uuid("action"),
                    "UnlocalizedApplications": ["Automator"],
                    "isViewVisible": 1,
                },
                "isViewVisible": 1,
            }
        ],
        "connectors": {},
        "workflowMetaData": {
            "applicationBundleID": "com.apple.finder",
            "inputTypeIdentifier": "com.apple.Automator.fileSystemObject",
            "outputTypeIdentifier": "com.apple.Automator.nothing",
            "presentationMode": 15,
            "processesInput": False,
            "serviceApplicationBundleID": "com.apple.finder",
            "serviceInputTypeIdentifier": "com.apple.Automator.fileSystemObject",
            "serviceOutputTypeIdentifier": "com.apple.Automator.nothing",
            "serviceProcessesInput": False,
            "systemImageName": "NSActionTemplate",
            "useAutomaticInputType": False,
            "workflowTypeIdentifier": "com.apple.Automator.servicesMenu",
        },
    }


def services_menu_strings(language: str) -> bytes:
    """The menu item's name in ``language``: a service's ``NSMenuItem`` is localized by a
    ``ServicesMenu.strings`` in the bundle's ``<language>.lproj`` (Finder shows the one
    of the user's language, whatever the agent's was)."""
    name = translations(language).gettext(NAME)
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{NAME}" = "{quoted}";\n'.encode()


def bundle_files(koppel: Path) -> dict[str, bytes]:
    """The bundle's files (relative path -> content), as XML property lists."""
    files = {
        "Contents/Info.plist": plistlib.dumps(info_plist(), sort_keys=True),
        "Contents/document.wflow": plistlib.dumps(document(koppel), sort_keys=True),
    }
    for language in LANGUAGES:
        if language != DEFAULT_LANGUAGE:
            strings = services_menu_strings(language)
            files[f"Contents/Resources/{language}.lproj/ServicesMenu.strings"] = strings
    return files
