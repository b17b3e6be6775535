"""The words human tables show for codes (file states, environment kinds, link states).

``--json`` keeps the codes; a table says them in the user's language. A code without a
word here (one a newer server sends) is shown as it is.
"""

from __future__ import annotations

from koppel.i18n import N_
from koppel.i18n import gettext as _

_WORDS = {
    # My files
    "pending": N_("pending"),
    "ready": N_("ready"),
    "failed": N_("failed"),
    # environment kinds
    "firm": N_("firm"),
    "client": N_("client"),
    # what `koppel doctor` found for a link
    "ok": N_("ok"),
    "error": N_("error"),
    "unreachable": N_("unreachable"),
    "token_revoked": N_("access revoked"),
    "token_invalid": N_("token not valid"),
    "token_missing": N_("token missing"),
    "token_wrong_environment": N_("token of another environment"),
    "update_mismatch": N_("another update"),
    "update_unsupported": N_("update not supported"),
    "connector_blocked": N_("connector blocked"),
    "not_authorized": N_("not authorized"),
    "account_disabled": N_("account disabled"),
    "not_a_member": N_("no longer a member"),
    "unknown_environment": N_("unknown environment"),
}


def word(code: str) -> str:
    """``code`` as a table shows it, in the current language."""
    known = _WORDS.get(code)
    return _(known) if known else code
