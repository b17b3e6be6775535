"""The desktop agent's windows (the optional extra ``koppel[desktop]``, on PySide6): the
tray icon with its menu and the submit window.

Only the modules of this package import PySide6, and only those that draw: the tray's
state model (``tray_model``) and what feeds it (``tray_sources``) are plain Python, so
they are tested, and usable, without Qt.
"""
