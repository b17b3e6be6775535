"""Function paths that authorizations grant (see DESIGN.md, "Domain model")."""

from enum import StrEnum


class Function(StrEnum):
    """A function an environment user can be authorized for."""

    MY_FILES = "General/Output/My files"
    SAVE_SETTINGS = "General/User/Communication Center/Save settings"
    SAVE_INSTALLATION = "General/User/Communication Center/Save installation"
    APP_CONNECTOR = "General/Management/App connector"


# What a firm employee needs in a client environment to use the agent there
# (the help page, "Configuration par client", step 3).
LINK_FUNCTIONS: tuple[Function, ...] = (Function.MY_FILES, Function.SAVE_SETTINGS)


def parse_function(text: str) -> Function:
    """Accept a full path or its last segment, case-insensitively ("save settings")."""
    wanted = text.strip().lower()
    for function in Function:
        if wanted in (function.value.lower(), function.value.rsplit("/", 1)[-1].lower()):
            return function
    choices = ", ".join(f'"{f.value}"' for f in Function)
    raise ValueError(f"unknown function {text!r}; use one of {choices}")
