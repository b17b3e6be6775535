"""A forgotten password reset by e-mail, end to end through a real SMTP server on
loopback (aiosmtpd): the request, the e-mail, the link, the new password, the second
factor still asked, the rate limit, the same answer for unknown logins, expired and used
links; the profile page and the administrator's e-mail commands."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from app_client import DEMO_PASSWORD, InProcess, make_in_process
from certificates import self_signed
from device_support import current_code, enrol_second_factor
from harness import Server, make_server
from koppel.server.domain.portal.password_reset import ADDRESS_LIMIT
from portal_client import Portal, text_of
from portal_in_process import PortalBrowser
from smtp_sink import Credentials, SmtpSink, smtp_sink

NEW_PASSWORD = "a-new-password-1"
SENT = "a link to choose a new password is on its way"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with smtp_sink() as made:
        yield made


@pytest.fixture
def app(tmp_path: Path, sink: SmtpSink) -> Iterator[InProcess]:
    """The demo practice in process, sending e-mail to ``sink``; anna has an address."""
    made = make_in_process(tmp_path / "server", smtp_url=sink.url,
                           mail_from="Koppel <portal@firm.example>")  # fmt: skip
    made.ok("accounts", "set-email", "anna", "anna@firm.example")
    try:
        yield made
    finally:
        made.close()


def ask(app: InProcess, login: str, address: str = "127.0.0.1",
        headers: dict[str, str] | None = None) -> str:  # fmt: skip
    """Fill in the forgot-password page as a new browser; the answer's text."""
    browser = PortalBrowser(app, address=address)
    if headers:
        browser.http = app.client(address, headers=headers)
    page = browser.get(browser.path("forgot-password"))
    assert page.status_code == 200, page.text
    answer = browser.post(browser.path("forgot-password"), {"login": login})
    assert answer.status_code == 200, answer.text
    return text_of(answer.text)


def path_of(link: str) -> str:
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def choose(app: InProcess, link: str, password: str = NEW_PASSWORD,
           again: str | None = None) -> tuple[int, str]:  # fmt: skip
    """Follow the link and submit the new password; the status and text of the answer."""
    browser = PortalBrowser(app)
    form = browser.get(path_of(link))
    if form.status_code != 200:
        return form.status_code, text_of(form.text)
    token = re.search(r'name="token" value="([^"]+)"', form.text)
    assert token, form.text
    done = browser.post(
        browser.path("reset-password"),
        {"token": token.group(1), "password": password, "confirmation": again or password},
    )
    return done.status_code, text_of(done.text)


def audit_actions(app: InProcess, login: str) -> list[str]:
    from koppel.server.adapters.db.tables.core import audit_entries as t

    with app.sql() as c:
        return [r.action for r in c.execute(select(t.c.action).where(t.c.actor == login))]


def test_a_forgotten_password_is_reset_by_e_mail_and_the_second_factor_stays(
    app: InProcess, sink: SmtpSink
) -> None:
    with app.transaction() as uow:
        anna = uow.core.account("anna")
        enrol_second_factor(uow.core, uow.portal, app.svc.policy, anna)
    elsewhere = PortalBrowser(app)
    assert "second-factor" in str(elsewhere.sign_in().url)  # a session, half signed in

    assert SENT in ask(app, "anna")
    assert sink.messages == []  # the answer did not wait for the mail server
    assert app.run_jobs() == 1
    (mail,) = sink.messages
    assert mail.recipients == ["anna@firm.example"]
    assert mail.message["From"] == "Koppel <portal@firm.example>"
    assert (
        mail.message["Subject"] == "Choose a new password for the portal of Dekker & Co Accountants"
    )
    assert mail.link in mail.html and "30 minutes" in mail.text
    assert mail.link.startswith("http://koppel.test/portal/F10001/reset-password?token=kppr_")
    # Only a hash of the link's secret is stored.
    token = mail.link.split("token=")[1]
    with app.sql() as c:
        stored = c.exec_driver_sql("SELECT public_id, secret_hash FROM password_resets").all()
    assert token.split("_", 2)[2] not in str(stored)

    status, text = choose(app, mail.link, "short")
    assert status == 400 and "at least 8 characters" in text
    status, text = choose(app, mail.link, NEW_PASSWORD, again="something-else")
    assert status == 400 and "not the same" in text
    status, text = choose(app, mail.link)
    assert status == 200 and "Your password is changed" in text

    # The used link says so and offers a new one.
    status, text = choose(app, mail.link)
    assert status == 409 and "already used" in text and "Ask for a new link" in text
    # The other session ended; the old password no longer works; the new one still
    # needs the second factor.
    assert "sign-in" in str(elsewhere.get(elsewhere.path("")).url)
    assert PortalBrowser(app).sign_in("anna", DEMO_PASSWORD).status_code == 401
    assert "second-factor" in str(PortalBrowser(app).sign_in("anna", NEW_PASSWORD).url)
    actions = audit_actions(app, "anna")
    assert "account.password_reset_requested" in actions
    assert "account.password_reset" in actions


def test_the_same_answer_and_no_mail_for_an_unknown_login_or_an_account_without_address(
    app: InProcess, sink: SmtpSink
) -> None:
    known = ask(app, "anna", "10.0.0.1")
    assert ask(app, "nobody", "10.0.0.2") == known
    assert ask(app, "nobody@firm.example", "10.0.0.3") == known
    assert ask(app, "bram", "10.0.0.4") == known  # bram has no address
    assert app.run_jobs() == 1
    assert [m.recipients for m in sink.messages] == [["anna@firm.example"]]
    # The e-mail address finds the account as the login does.
    ask(app, "Anna@FIRM.example", "10.0.0.5")
    assert app.run_jobs() == 1 and len(sink.messages) == 2


def test_answers_take_as_long_for_known_and_unknown_logins(app: InProcess) -> None:
    def timed(login: str, address: str) -> float:
        browser = PortalBrowser(app, address=address)
        browser.get(browser.path("forgot-password"))
        started = time.perf_counter()
        browser.post(browser.path("forgot-password"), {"login": login})
        return time.perf_counter() - started

    known = min(timed("anna", f"10.1.0.{n}") for n in range(3))
    unknown = min(timed("nobody", f"10.2.0.{n}") for n in range(3))
    # No password hashing on either path: the difference is a query or two.
    assert abs(known - unknown) < 0.05, (known, unknown)


def test_requests_are_limited_per_account_and_per_address(
    app: InProcess, sink: SmtpSink, caplog: pytest.LogCaptureFixture
) -> None:
    answers = []
    for number in range(4):
        answers.append(ask(app, "anna", f"10.3.0.{number}"))
        app.run_jobs()
    assert len(set(answers)) == 1  # the fourth answer is the same...
    assert len(sink.messages) == 3  # ...but sends nothing
    assert "over the limit" in caplog.text
    # Per client address the limit is generous: an office behind one public address
    # (three people asking at once here) is not blocked by the per-account limit's 3.
    app.clock.advance(minutes=16)
    app.ok("accounts", "set-email", "bram", "bram@firm.example")
    for login in ("x1", "x2", "bram", "anna"):
        ask(app, login, "10.4.0.1")
    assert app.run_jobs() == 2 and len(sink.messages) == 5
    # ...but not unlimited: 30 requests from one address in 15 minutes, then nothing.
    for number in range(ADDRESS_LIMIT - 4):
        ask(app, f"y{number}", "10.4.0.1")
    ask(app, "anna", "10.4.0.1")
    assert app.run_jobs() == 0 and len(sink.messages) == 5
    # A quarter of an hour later it works again.
    app.clock.advance(minutes=16)
    ask(app, "anna", "10.4.0.1")
    assert app.run_jobs() == 1 and len(sink.messages) == 6


def test_an_expired_or_replaced_link_says_so_and_offers_a_new_one(
    app: InProcess, sink: SmtpSink
) -> None:
    ask(app, "anna")
    app.run_jobs()
    app.clock.advance(minutes=31)
    status, text = choose(app, sink.messages[0].link)
    assert status == 410 and "expired" in text and "Ask for a new link" in text

    ask(app, "anna")
    app.run_jobs()
    ask(app, "anna", "10.5.0.1")
    app.run_jobs()
    first, second = sink.messages[1:]
    status, text = choose(app, first.link)
    assert status == 404 and "newer link" in text
    # True also when the newest link was used since: it offers a new one as well.
    assert "Use the link in the newest e-mail, or ask for a new one" in text
    status, text = choose(app, first.link.replace("kppr_", "kppr_0"))
    assert status == 404 and "not a valid" in text
    assert choose(app, second.link)[0] == 200


def test_without_a_mail_server_the_page_says_the_administrator_resets_passwords(
    demo_app: InProcess,
) -> None:
    browser = PortalBrowser(demo_app)
    page = browser.get(browser.path("forgot-password"))
    assert "reset by your administrator" in text_of(page.text)
    assert "<form" not in page.text.split("<main", 1)[1].split("</main>")[0]
    with demo_app.transaction() as uow:
        assert uow.jobs.backlog()[0] == 0


def test_the_mail_and_the_pages_in_dutch(app: InProcess, sink: SmtpSink) -> None:
    dutch = {"Accept-Language": "nl-BE,nl;q=0.9"}
    text = ask(app, "anna", headers=dutch)
    assert "onderweg" in text, text
    app.run_jobs()
    (mail,) = sink.messages
    assert "wachtwoord" in mail.message["Subject"].lower()
    assert "30 minuten" in mail.text and 'lang="nl"' in mail.html
    browser = PortalBrowser(app)
    browser.http = app.client(headers=dutch)
    page = browser.get(path_of(mail.link))
    assert "Kies een nieuw wachtwoord" in text_of(page.text)


def test_the_mail_follows_the_language_of_the_account(app: InProcess, sink: SmtpSink) -> None:
    with app.transaction() as uow:
        anna = uow.core.account("anna")
        anna.language = "fr"
        uow.core.save_account(anna)
    ask(app, "anna")  # the browser asks for English
    app.run_jobs()
    assert "mot de passe" in sink.messages[0].message["Subject"]


def test_the_profile_page_sets_address_language_and_time_zone(app: InProcess) -> None:
    anna = PortalBrowser(app).signed_in("bram")
    page = anna.get(anna.path("profile"))
    assert page.status_code == 200
    zones = re.findall(r'<option value="([^"]+)"', page.text.split('id="time-zone"')[1])
    assert zones[:3] == ["Europe/Amsterdam", "Europe/Brussels", "Europe/Paris"]
    bad = anna.post(anna.path("profile"),
                    {"email": "bram@@firm", "language": "nl", "time_zone": ""})  # fmt: skip
    assert bad.status_code == 400 and "not an e-mail address" in text_of(bad.text)
    bad = anna.post(anna.path("profile"),
                    {"email": "", "language": "nl", "time_zone": "Mars/Olympus"})  # fmt: skip
    assert bad.status_code == 400 and "not a time zone" in text_of(bad.text)
    with app.transaction() as uow:
        account = uow.core.account("bram")
        assert (account.email, account.language, account.time_zone) == (None, None, None)
    done = anna.post(
        anna.path("profile"),
        {"email": " bram@Firm.Example ", "language": "fr", "time_zone": "Europe/Brussels"},
    )
    assert done.status_code == 200
    with app.transaction() as uow:
        account = uow.core.account("bram")
        assert account.email == "bram@firm.example"
        assert (account.language, account.time_zone) == ("fr", "Europe/Brussels")
    assert "account.profile" in audit_actions(app, "bram")
    # The display name is shown, not editable.
    assert 'id="display-name"' in done.text and "readonly" in done.text


def test_the_administrator_sets_addresses_and_imports_accounts(
    app: InProcess, tmp_path: Path
) -> None:
    bad = app.admin("accounts", "set-email", "bram", "bram-at-firm", "--json")
    assert bad.returncode == 5 and '"invalid_email"' in bad.output
    app.ok("accounts", "create", "carla", "--password", "carla-pass-1",
           "--email", "carla@firm.example")  # fmt: skip
    listed = app.ok("accounts", "list", "--json").output
    assert '"carla@firm.example"' in listed

    csv = tmp_path / "accounts.csv"
    csv.write_text("login,name,email\ndirk,Dirk Peeters,dirk@firm.example\n"
                   "eva,Eva,eva@firm\nbram,,bram@firm.example\n")  # fmt: skip
    refused = app.admin("accounts", "import", str(csv))
    assert refused.returncode == 5 and "line 3" in refused.output
    with app.transaction() as uow:
        assert uow.core.account("dirk") is None  # nothing imported
    csv.write_text("login,name,email\ndirk,Dirk Peeters,dirk@firm.example\n"
                   "eva,Eva,\nbram,,bram@firm.example\n")  # fmt: skip
    app.ok("accounts", "import", str(csv))
    with app.transaction() as uow:
        assert uow.core.account("dirk").email == "dirk@firm.example"
        assert uow.core.account("eva").email is None
        assert uow.core.account("bram").display_name != "bram"  # kept
        assert uow.core.account("bram").email == "bram@firm.example"


def test_starttls_and_a_sign_in_to_the_mail_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the test's authority, trusted
    login = Credentials("koppel@firm.example", "p@ss:word")
    with smtp_sink(tls=(cert, key), credentials=login) as sink:
        url = f"smtp://koppel%40firm.example:p%40ss%3Aword@127.0.0.1:{sink.port}?starttls=true"
        app = make_in_process(tmp_path / "server", smtp_url=url)
        try:
            app.ok("accounts", "set-email", "anna", "anna@firm.example")
            ask(app, "anna")
            assert app.run_jobs() == 1
            assert [m.recipients for m in sink.messages] == [["anna@firm.example"]]
            # Without STARTTLS the server refuses: the job is tried again, then fails with
            # the reason recorded (and logged), and nothing goes out in clear text.
            plain = make_in_process(tmp_path / "plain", smtp_url=f"smtp://127.0.0.1:{sink.port}")
            try:
                plain.ok("accounts", "set-email", "anna", "anna@firm.example")
                ask(plain, "anna")
                assert plain.run_jobs() == 3
                with plain.sql() as c:
                    state, error = c.exec_driver_sql("SELECT state, error FROM jobs").one()
                assert state == "failed" and "STARTTLS" in error
                assert len(sink.messages) == 1
            finally:
                plain.close()
        finally:
            app.close()


def test_reset_through_a_real_server_process(tmp_path: Path, sink: SmtpSink) -> None:
    server: Server = make_server(tmp_path, process=True)
    server.env["KOPPEL_SMTP_URL"] = sink.url
    server.start("--demo")
    try:
        server.ok("accounts", "set-email", "anna", "anna@firm.example")
        with Portal(server) as anna:  # two-step verification on, from the security page
            anna.signed_in("anna")
            shown = anna.post(anna.path("security", "enrol"))
            found = re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', shown.text)
            assert found
            secret = found.group(1).replace(" ", "")
            confirmed = anna.post(anna.path("security", "confirm"),
                                  {"otp": current_code(secret, datetime.now(UTC))})  # fmt: skip
            assert confirmed.status_code == 200, text_of(confirmed.text)

        def request(login: str) -> str:
            with Portal(server) as browser:
                browser.get(browser.path("forgot-password"))
                answer = browser.post(browser.path("forgot-password"), {"login": login})
                assert answer.status_code == 200
                return text_of(answer.text)

        first = request("anna")
        assert SENT in first
        (mail,) = sink.wait_for(1)  # sent by the server's job worker
        assert mail.link.startswith(f"{server.url}/portal/F10001/reset-password?token=")
        with Portal(server) as browser:
            form = browser.get(path_of(mail.link))
            token = re.search(r'name="token" value="([^"]+)"', form.text)
            assert token
            done = browser.post(browser.path("reset-password"), {
                "token": token.group(1), "password": NEW_PASSWORD,
                "confirmation": NEW_PASSWORD})  # fmt: skip
            assert "Your password is changed" in text_of(done.text)
            again = browser.get(path_of(mail.link))
            assert again.status_code == 409 and "already used" in text_of(again.text)
        with Portal(server) as browser:  # the new password, and still the second factor
            assert "second-factor" in str(browser.sign_in("anna", NEW_PASSWORD).url)

        # An unknown login: the same answer, no e-mail. Then the limit: the account's
        # fourth request in 15 minutes gets the same answer and sends nothing.
        assert request("nobody") == first
        assert request("anna") == first
        sink.wait_for(2)
        assert request("anna") == first
        sink.wait_for(3)
        assert request("anna") == first
        time.sleep(3)  # the worker polls every second: a fourth e-mail would be here
        assert len(sink.messages) == 3
        assert [m.recipients for m in sink.messages] == [["anna@firm.example"]] * 3
    finally:
        server.stop()


def test_the_profile_page_refuses_in_dutch_with_the_same_status(app: InProcess) -> None:
    bram = PortalBrowser(app)
    bram.http = app.client(headers={"Accept-Language": "nl"})
    bram.signed_in("bram")
    page = bram.get(bram.path("profile"))
    assert "Mijn profiel" in text_of(page.text) and "Tijdzone" in text_of(page.text)
    bad = bram.post(bram.path("profile"), {"email": "bram@firm", "language": "", "time_zone": ""})
    assert bad.status_code == 400
    assert "is geen e-mailadres: het deel na de @ is geen domeinnaam" in text_of(bad.text)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://mail.firm.example", "write it as smtp://"),
        ("smtp://", "write it as smtp://"),
        ("smtp://mail.firm.example?tls=1", "unknown option 'tls=1'"),
        ("smtp://mail.firm.example:port", "the port is not a number"),
    ],
)
def test_a_wrong_smtp_url_is_refused_at_start(url: str, problem: str) -> None:
    from pydantic import ValidationError

    from koppel.server.config import ServerSettings

    with pytest.raises(ValidationError, match=re.escape(problem)):
        ServerSettings(smtp_url=url)


def test_the_smtp_url_names_server_security_and_sign_in() -> None:
    from koppel.server.adapters.mail import SmtpServer

    server = SmtpServer.from_url(
        "smtp://me%40firm.example:p%40ss@mail.firm.example:587?starttls=true"
    )
    assert (server.host, server.port, server.tls, server.starttls) == (
        "mail.firm.example", 587, False, True)  # fmt: skip
    assert (server.user, server.password) == ("me@firm.example", "p@ss")
    tls = SmtpServer.from_url("smtps://mail.firm.example")
    assert (tls.port, tls.tls, tls.starttls, tls.user) == (465, True, False, None)
