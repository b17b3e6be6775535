"""Where the agent keeps its files: the OS user's own data folder, so each user has own links."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "KOPPEL_AGENT_HOME"


def data_dir() -> Path:
    """The agent's data folder: ``$KOPPEL_AGENT_HOME`` or platformdirs' user data folder."""
    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override).expanduser()
    # Imported here: platformdirs is only needed when no override is set.
    from platformdirs import user_data_dir

    return Path(user_data_dir("koppel", appauthor=False))


def state_file() -> Path:
    """The JSON file that records the workstation and its linked environments."""
    return data_dir() / "state.json"


def lock_file() -> Path:
    """The lock file that serialises writers of the state."""
    return data_dir() / "state.lock"


def tokens_file() -> Path:
    """The 0600 token file used where no OS keychain is available."""
    return data_dir() / "tokens.json"


def ensure_data_dir() -> Path:
    """Create the data folder (private to the user) and return it."""
    folder = data_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder
