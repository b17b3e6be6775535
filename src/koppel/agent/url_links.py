"""``koppel://`` links: acting on one (``koppel open-link``). The link format is in
``koppel.protocol.links``; registering the agent as their handler is
``koppel.agent.desktop_integration.url_handler``; docs/koppel-links.md explains both.

A link can come from any web page, so ``open-link`` acts only on an environment that is
linked on this workstation *with the server the link names*; anything else is refused
before any request is made.
"""

from __future__ import annotations

from koppel.agent.api import server_base
from koppel.agent.errors import AgentError, NotLinked
from koppel.agent.exit_codes import ExitCode
from koppel.i18n import gettext as _
from koppel.protocol.links import EditLink, LinkError, parse_link


# --- acting on a link ---------------------------------------------------------------------
def linked_target(url: str) -> EditLink:
    """The edit link ``url`` asks for, if its environment is linked here with the server
    the link names. Malformed or unknown links are a usage error; others ``not_linked``."""
    try:
        wanted = parse_link(url)
    except LinkError as exc:
        raise AgentError(
            _("Not a Koppel link this agent can open: {problem}").format(problem=exc),
            ExitCode.USAGE,
        ) from exc
    from koppel.agent.environments import find

    try:
        _state, env = find(wanted.environment)
    except NotLinked as exc:
        raise AgentError(
            _(
                "The link is for environment {environment} on {server}, which is not linked "
                "on this workstation. Link it first (download its settings from the portal "
                "and run `koppel link FILE`); `koppel envs` lists the linked environments."
            ).format(environment=wanted.environment, server=wanted.server),
            ExitCode.NOT_LINKED,
        ) from exc
    try:
        linked_server = server_base(env.api_url)
    except AgentError:
        linked_server = env.api_url
    if _same_server(linked_server, server_base(wanted.server)):
        return wanted
    raise AgentError(
        _(
            "The link is for {environment} on {server}, but {code} is linked to {linked} on "
            "this workstation; the link was not opened. Use the portal of the server {code} "
            "is linked to, or link it again from {server}."
        ).format(
            environment=wanted.environment,
            server=wanted.server,
            code=env.code,
            linked=linked_server,
        ),
        ExitCode.NOT_LINKED,
    )


def _same_server(linked: str, named: str) -> bool:
    from urllib.parse import urlsplit

    def key(url: str) -> tuple[str, str, int | None, str]:
        parts = urlsplit(url.rstrip("/"))
        default = {"http": 80, "https": 443}.get(parts.scheme.lower())
        return (
            parts.scheme.lower(),
            (parts.hostname or "").lower(),
            parts.port or default,
            parts.path.rstrip("/"),
        )

    try:
        return key(linked) == key(named)
    except ValueError:
        return False
