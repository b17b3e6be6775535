"""The e-mail that carries a password reset link, in the account's language."""

from __future__ import annotations

from html import escape

from koppel.i18n import format_when, use_language, use_time_zone
from koppel.i18n import gettext as _
from koppel.server.domain.mail import MailMessage
from koppel.server.domain.portal.password_reset import LINK_LIFETIME, ResetLink


def compose(link: ResetLink, to: str) -> MailMessage:
    """The reset e-mail to ``to``: plain text with a simple HTML alternative, in the
    link's language, its expiry in the account's time zone (else the portal's)."""
    zone = link.account.time_zone or link.portal.time_zone
    with use_language(link.language), use_time_zone(zone):
        values = {
            "name": link.account.display_name,
            "login": link.account.login,
            "portal": link.firm_name,
            "until": format_when(link.expires_at),
            "minutes": int(LINK_LIFETIME.total_seconds() // 60),
        }
        subject = _("Choose a new password for the portal of {portal}").format(**values)
        greeting = _("Hello {name},").format(**values)
        asked = _(
            "Someone, probably you, asked for a new password for the account {login} on "
            "the portal of {portal}."
        ).format(**values)
        follow = _("Choose your new password with this link:")
        valid = _(
            "The link works once, for {minutes} minutes (until {until}). If you did not ask "
            "for a new password, ignore this e-mail: your password stays as it is."
        ).format(**values)
        factor = _(
            "If you use two-step verification, the portal still asks for the code of your "
            "authenticator app when you sign in."
        )
        footer = _("This e-mail was sent by the portal of {portal}; replies are not read.").format(
            **values
        )
    text = "\n\n".join([greeting, asked, f"{follow}\n{link.url}", valid, factor, f"-- \n{footer}"])
    paragraphs = (
        "".join(f"<p>{escape(p)}</p>\n" for p in (greeting, asked))
        + (f'<p>{escape(follow)}<br>\n<a href="{escape(link.url)}">{escape(link.url)}</a></p>\n')
        + "".join(f"<p>{escape(p)}</p>\n" for p in (valid, factor))
    )
    html = (
        f'<!doctype html>\n<html lang="{escape(link.language)}"><head><meta charset="utf-8">'
        f"<title>{escape(subject)}</title></head>\n<body>\n{paragraphs}"
        f'<p style="color:#555">{escape(footer)}</p>\n</body></html>\n'
    )
    return MailMessage(to=to, subject=subject, text=text + "\n", html=html)
