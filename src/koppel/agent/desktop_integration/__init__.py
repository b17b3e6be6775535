"""What ties the agent into the desktop of each platform: the ``koppel://`` link handler
(``koppel handler``) and "Send to Koppel" in the file managers (``koppel integrate``).

One module per platform and concept. What Windows and macOS need (``winreg``, a ``.lnk``
made through PowerShell, an app bundle registered with Launch Services, a Quick Action)
cannot run on the Linux machine that builds Koppel: those modules take the registry or
the command runner as a parameter, and the tests check what they write and run against
fakes. docs/desktop-integration.md says which parts were exercised only that way.
"""
