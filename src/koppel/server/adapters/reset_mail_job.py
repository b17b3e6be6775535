"""The job that sends a password reset link (``password_reset.MAIL_JOB``).

The link's secret is made here, in the job, and only its hash stored: the request's
answer never waits for the mail server, and no usable link lies in the database or the
job's payload. A failed send raises, and the worker tries again (a new link each time).
"""

from __future__ import annotations

import logging

from koppel.server.domain.jobs.model import Job
from koppel.server.domain.mail import Mailer
from koppel.server.domain.portal import password_reset, reset_mail
from koppel.server.services import Services

log = logging.getLogger(__name__)


def send(svc: Services, job: Job, mailer: Mailer | None) -> str | None:
    """Make the job's link and send its e-mail; why nothing was sent, or None."""
    reset_id = int(job.payload.get("reset_id", 0))
    with svc.transaction() as uow:
        issued = password_reset.issue_link(uow.core, uow.password_resets, svc.policy, reset_id)
    if issued is None:
        return "nothing to send any more (a newer request, or no address)"
    if mailer is None:
        log.warning("password reset %s not sent: KOPPEL_SMTP_URL is not set", reset_id)
        return "no mail server configured (KOPPEL_SMTP_URL)"
    link, to = issued
    mailer.send(reset_mail.compose(link, to))
    log.info("password reset link for account %s sent by e-mail", link.account.login)
    return None
