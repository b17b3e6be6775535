"""Approving a download in the browser (the device authorization grant, RFC 8628): what
``koppel settings download`` and ``koppel installation download`` do when no password is
given, so the agent never handles the user's password and the second factor applies.

The agent shows a code and the server's device page, opens the page in the browser when
there is a desktop, and polls until the user approved, denied, or the code expired.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from koppel.agent.api import AgentClient
from koppel.agent.errors import AgentError
from koppel.agent.exit_codes import ExitCode
from koppel.i18n import gettext as _
from koppel.i18n import ngettext


def workstation_label() -> str:
    """The name the device page shows for this workstation (as linking records it)."""
    import socket

    from koppel.agent.local import state

    known = state.read().state.workstation
    if known is not None:
        return known.name
    return os.environ.get(state.WORKSTATION_NAME_ENV) or socket.gethostname() or "workstation"


def can_open_browser() -> bool:
    """Whether a graphical browser can be opened: Windows and macOS always, elsewhere only
    inside a desktop session (a text browser would take over the terminal)."""
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _open(url: str) -> bool:
    import webbrowser

    try:
        return webbrowser.open(url, new=2)
    except webbrowser.Error:
        return False


def approve_in_browser(
    client: AgentClient,
    scope: str,
    workstation: str,
    *,
    say: Callable[[str], None],
    open_browser: bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Start an approval for ``scope`` and wait for it; the access token."""
    started = client.device_authorize(scope, workstation)
    opened = open_browser and can_open_browser() and _open(started.verification_uri_complete)
    minutes = max(started.expires_in // 60, 1)
    if opened:
        how = _("To approve, sign in in the browser window that opened and enter the code {code}.")
    else:
        how = _("To approve, sign in at {address} and enter the code {code}.")
    waiting = ngettext(
        "Waiting for your approval (the code works for {n} minute; Ctrl+C stops).",
        "Waiting for your approval (the code works for {n} minutes; Ctrl+C stops).",
        minutes,
    )
    say(
        how.format(address=started.verification_uri, code=started.user_code)
        + " "
        + waiting.format(n=minutes)
    )
    interval = float(started.interval)
    deadline = time.monotonic() + started.expires_in
    while time.monotonic() < deadline:
        sleep(interval)
        answer = client.device_token(started.device_code)
        if answer == "slow_down":
            interval += 5
        elif not isinstance(answer, str):
            return answer.access_token
    raise AgentError(
        _("The code was not approved in time (15 minutes). Run the command again."),
        ExitCode.REFUSED,
    )
