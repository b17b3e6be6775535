"""The two composite commands that apply the whole procedure to one environment."""

from __future__ import annotations

from collections.abc import Sequence

from koppel.i18n import gettext as _
from koppel.i18n import ngettext
from koppel.protocol.errors import ErrorCode
from koppel.protocol.functions import LINK_FUNCTIONS
from koppel.server.domain import lookups
from koppel.server.domain.dossier import template as dossier_template
from koppel.server.domain.errors import DomainError
from koppel.server.domain.model import ConnectorName, Kind
from koppel.server.domain.setup.administration import Admin, Outcome
from koppel.server.domain.setup.procedure import FIRM_FUNCTIONS


def server_address(admin: Admin) -> str:
    """The address agents use: the server's own. Setting up an environment with a guessed
    address would make every employee's first link fail, so an unknown one is refused."""
    if not admin.policy.address_known:
        raise DomainError(
            ErrorCode.ADDRESS_UNKNOWN,
            _(
                "The address agents use to reach this server is not known yet: start "
                "`koppel-server` once (it records the address it serves on), or set "
                "KOPPEL_PUBLIC_URL (or give --public-url) to the address employees' computers "
                "reach it at."
            ),
        )
    return admin.policy.public_url


def _kept(admin: Admin, site: str | None, *codes: str) -> str | None:
    """A recorded main site that stays: one the administrator chose elsewhere. A portal
    address of this server (the environment's own, or its firm's) is derived, so it
    follows the server's address (None)."""
    if site is None or any(admin.policy.is_portal_address(site, c) for c in codes):
        return None
    return site


def setup_firm(
    admin: Admin, code: str, api_url: str | None = None, main_site: str | None = None
) -> list[Outcome]:
    """Firm set-up: address, portal access for every user, authorizations to install and
    link, the Communication Center connector opened, the portal main site recorded."""
    env = lookups.environment(admin.repo, code)
    if env.kind is not Kind.FIRM:
        raise DomainError(
            ErrorCode.NOT_A_FIRM,
            _(
                "{code} is a client environment; use `koppel-admin setup client {code} --firm "
                "FIRM --user LOGIN`."
            ).format(code=env.code),
            environment=env.code,
        )
    outcomes = [admin.set_api_url(env.code, api_url or server_address(admin))]
    outcomes.append(admin.set_environment(env.code, has_portal=True))
    for login in admin.logins(env.code):
        outcomes.append(admin.set_portal_access(env.code, login, True))
        outcomes.append(admin.authorize_user(env.code, login, FIRM_FUNCTIONS))
    outcomes.append(
        admin.set_connector_blocked(env.code, ConnectorName.COMMUNICATION_CENTER, False)
    )
    site = (
        main_site or _kept(admin, env.main_site_url, env.code) or admin.policy.portal_url(env.code)
    )
    outcomes.append(admin.set_main_site(env.code, site))
    return outcomes


def setup_client(
    admin: Admin,
    code: str,
    firm: str,
    logins: Sequence[str],
    api_url: str | None = None,
    main_site: str | None = None,
) -> list[Outcome]:
    """Client set-up: address, managing firm, the firm's employees authorized for My files
    and Save settings, the connector opened, the main site (the firm's portal when the
    client has none of its own), and the firm's dossier template copied into a client
    without destinations or item types (so that it can receive documents)."""
    env = lookups.environment(admin.repo, code)
    firm_env = lookups.environment(admin.repo, firm)
    if env.kind is not Kind.CLIENT:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            _("{code} is a firm environment; use `koppel-admin setup firm {code}`.").format(
                code=env.code
            ),
            environment=env.code,
        )
    staff = set(admin.logins(firm_env.code))
    if not logins:
        # Setting a client up again (the server moved, the template changed): the firm's
        # employees it has already.
        logins = [login for login in admin.logins(env.code) if login in staff]
    if not logins:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            _("Name the firm's employees who use the agent with {code}: --user LOGIN.").format(
                code=env.code
            ),
            environment=env.code,
        )
    strangers = [login for login in logins if login.strip().lower() not in staff]
    if strangers:
        raise DomainError(
            ErrorCode.NOT_A_MEMBER,
            ngettext(
                "{logins} is not a user of the firm environment {code}; add them there first "
                "(`koppel-admin users add {code} LOGIN`).",
                "{logins} are not users of the firm environment {code}; add them there first "
                "(`koppel-admin users add {code} LOGIN`).",
                len(strangers),
            ).format(logins=", ".join(strangers), code=firm_env.code),
            environment=firm_env.code,
        )
    site = main_site or _kept(admin, env.main_site_url, env.code, firm_env.code)
    if site is None:
        if env.has_portal:
            site = admin.policy.portal_url(env.code)
        elif firm_env.main_site_url:
            site = firm_env.main_site_url
        else:
            raise DomainError(
                ErrorCode.MAIN_SITE_MISSING,
                _(
                    "{code} has no portal of its own and {firm} has no main site recorded "
                    "yet; run `koppel-admin setup firm {firm}` first."
                ).format(code=env.code, firm=firm_env.code),
                environment=env.code,
            )
    outcomes = [
        admin.set_api_url(env.code, api_url or server_address(admin)),
        admin.set_firm(env.code, firm_env.code),
    ]
    for login in logins:
        outcomes.append(admin.add_user(env.code, login))
        outcomes.append(admin.authorize_user(env.code, login, LINK_FUNCTIONS))
    outcomes.append(
        admin.set_connector_blocked(env.code, ConnectorName.COMMUNICATION_CENTER, False)
    )
    outcomes.append(admin.set_main_site(env.code, site))
    outcomes += dossier_template.fill_new_client(admin, env, firm_env)
    return outcomes
