"""TOTP without HTTP: the RFC 4226/6238 test vectors, the ±1 step window and its edges,
the otpauth URI, and the second factor's rules on a real SQLite database with a clock
the test sets (enrol, confirm, no replay, recovery codes once, disable, reset)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from koppel.protocol.errors import ErrorCode
from koppel.server.adapters.assembly import create_services
from koppel.server.config import ServerSettings
from koppel.server.domain.errors import DomainError
from koppel.server.domain.model import Account, Environment, Kind
from koppel.server.domain.portal import second_factor as sf
from koppel.server.domain.portal.sessions import start
from koppel.server.domain.setup.administration import Admin
from koppel.server.services import Services

SHA1_KEY = b"12345678901234567890"
SHA256_KEY = b"12345678901234567890123456789012"
SHA512_KEY = (b"1234567890" * 7)[:64]

# RFC 6238 appendix B: (time, SHA1, SHA256, SHA512), 8 digits.
RFC6238 = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]
# RFC 4226 appendix D: HOTP of counters 0..9 with the SHA1 key, 6 digits.
RFC4226 = ["755224", "287082", "359152", "969429", "338314",
           "254676", "287922", "162583", "399871", "520489"]  # fmt: skip


@pytest.mark.parametrize(("at", "sha1", "sha256", "sha512"), RFC6238)
def test_rfc6238_vectors(at: int, sha1: str, sha256: str, sha512: str) -> None:
    assert sf.totp(SHA1_KEY, at, digits=8) == sha1
    assert sf.totp(SHA256_KEY, at, digits=8, digest="sha256") == sha256
    assert sf.totp(SHA512_KEY, at, digits=8, digest="sha512") == sha512
    # The 6-digit code the portal uses is the same number's last six digits.
    assert sf.totp(SHA1_KEY, at) == sha1[-6:]


def test_rfc4226_vectors() -> None:
    assert [sf.hotp(SHA1_KEY, counter) for counter in range(10)] == RFC4226


SECRET = base64.b32encode(SHA1_KEY).decode()  # GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ


def at(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


def test_secret_round_trip_and_format() -> None:
    secret = sf.new_secret()
    assert len(secret) == 32 and "=" not in secret
    assert len(sf.key_of(secret)) == 20
    assert sf.key_of(SECRET.lower()) == SHA1_KEY
    assert sf.key_of("gezd gnbv gy3t qojq gezd gnbv gy3t qojq") == SHA1_KEY
    assert sf.new_secret() != secret


def test_window_accepts_one_step_either_side_only() -> None:
    now = 1_000_000_020  # step 33333334, 20 s into it
    step = sf.time_step(now)
    codes = {offset: sf.hotp(SHA1_KEY, step + offset) for offset in range(-2, 3)}
    assert len(set(codes.values())) == 5  # distinct, so each check means something
    for offset in (-1, 0, 1):
        assert sf.matching_step(SECRET, codes[offset], at(now)) == step + offset
    for offset in (-2, 2):
        assert sf.matching_step(SECRET, codes[offset], at(now)) is None


def test_window_edges_at_step_boundaries() -> None:
    boundary = 30 * 40_000_000  # the first second of a step
    code = sf.hotp(SHA1_KEY, 40_000_000)
    assert sf.matching_step(SECRET, code, at(boundary)) == 40_000_000
    # Valid until the end of the following step, and from the start of the previous one.
    assert sf.matching_step(SECRET, code, at(boundary + 59.999)) == 40_000_000
    assert sf.matching_step(SECRET, code, at(boundary + 60)) is None
    assert sf.matching_step(SECRET, code, at(boundary - 30)) == 40_000_000
    assert sf.matching_step(SECRET, code, at(boundary - 30.001)) is None


def test_a_used_step_and_earlier_ones_are_refused() -> None:
    now = at(1_234_567_890)
    step = sf.time_step(now.timestamp())
    code = sf.hotp(SHA1_KEY, step)
    assert sf.matching_step(SECRET, code, now, last_step=step - 1) == step
    assert sf.matching_step(SECRET, code, now, last_step=step) is None
    previous = sf.hotp(SHA1_KEY, step - 1)
    assert sf.matching_step(SECRET, previous, now, last_step=step) is None
    following = sf.hotp(SHA1_KEY, step + 1)
    assert sf.matching_step(SECRET, following, now, last_step=step) == step + 1


@pytest.mark.parametrize("bad", ["", "12345", "1234567", "12345a", " 123456", "１２３４５６"])
def test_malformed_codes_never_match(bad: str) -> None:
    assert sf.matching_step(SECRET, bad, at(59)) is None


def test_provisioning_uri() -> None:
    uri = sf.provisioning_uri(SECRET, "anna", "Demo & Partners")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert unquote(parts.path) == "/Koppel:anna (Demo & Partners)"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query == {"secret": SECRET, "issuer": "Koppel", "algorithm": "SHA1",
                     "digits": "6", "period": "30"}  # fmt: skip


# --- the rules on a real database


@dataclass
class World:
    svc: Services
    account: Account
    portal: Environment
    now: datetime

    def clock(self) -> datetime:
        return self.now

    def code(self, secret: str, later: float = 0) -> str:
        return sf.totp(sf.key_of(secret), self.now.timestamp() + later)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    svc = create_services(ServerSettings(data_dir=tmp_path), migrate=True)
    w = World(svc, Account("x", "x", "x"), Environment("x", "x", Kind.FIRM, "x"), at(1_800_000_000))
    svc.policy = replace(svc.policy, clock=w.clock)
    with svc.transaction() as uow:
        admin = Admin(uow.core, svc.policy, "cli:test")
        admin.create_account("anna", "Anna", "koppel-demo")
        admin.create_environment("F10001", "Demo firm", Kind.FIRM, has_portal=True)
        w.account = uow.core.account("anna")  # type: ignore[assignment]
        w.portal = uow.core.environment("F10001")  # type: ignore[assignment]
    yield w
    svc.database.dispose()


def test_enrol_confirm_verify_without_replay(world: World) -> None:
    svc, acct, portal = world.svc, world.account, world.portal
    with svc.transaction() as uow:
        store = uow.portal
        factor = sf.enrol(uow.core, store, svc.policy, acct, portal)
        assert sf.status(store, acct).pending is not None
        assert not sf.status(store, acct).enabled
    with svc.transaction() as uow, pytest.raises(DomainError) as wrong:
        sf.confirm(uow.core, uow.portal, svc.policy, acct, portal, "000000")
    assert wrong.value.code is ErrorCode.SECOND_FACTOR_INVALID
    with svc.transaction() as uow:
        store = uow.portal
        codes = sf.confirm(uow.core, store, svc.policy, acct, portal, world.code(factor.secret))
        assert len(codes) == 10 and len(set(codes)) == 10
        stored = [c.code_hash for c in store.recovery_codes(acct.id)]
        assert all(c.replace("-", "") not in " ".join(stored) for c in codes)
        assert sf.status(store, acct).enabled and sf.status(store, acct).recovery_left == 10
        _cookie, session = start(store, svc.policy, acct.id, portal.id, verified=False)
    # The confirming code is used up; so is a replay in a later sign-in.
    with svc.transaction() as uow, pytest.raises(DomainError) as replay:
        sf.verify(uow.core, uow.portal, svc.policy, acct, portal, session,
                  world.code(factor.secret), "127.0.0.1")  # fmt: skip
    assert replay.value.code is ErrorCode.SECOND_FACTOR_INVALID
    world.now += timedelta(seconds=30)
    with svc.transaction() as uow:
        store = uow.portal
        kind = sf.verify(uow.core, store, svc.policy, acct, portal, session,
                         world.code(factor.secret), "127.0.0.1")  # fmt: skip
        assert kind == "totp"
        assert store.session(session.public_id).second_factor_done  # type: ignore[union-attr]
    # A recovery code works once, written any way (case, spaces, no dash).
    messy = " " + codes[3].upper().replace("-", " ") + " "
    with svc.transaction() as uow:
        store = uow.portal
        assert (
            sf.verify(uow.core, store, svc.policy, acct, portal, session, messy, "x") == "recovery"
        )
        assert sf.status(store, acct).recovery_left == 9
    with svc.transaction() as uow, pytest.raises(DomainError):
        sf.verify(uow.core, uow.portal, svc.policy, acct, portal, session,
                  codes[3], "x")  # fmt: skip
    with svc.transaction() as uow:
        actions = [e.action for e in uow.core.audit_entries()]
    assert {"second_factor.enrol", "second_factor.confirm",
            "second_factor.recovery_used"} <= set(actions)  # fmt: skip


def test_disable_needs_a_code_or_the_password(world: World) -> None:
    svc, acct, portal = world.svc, world.account, world.portal
    with svc.transaction() as uow:
        store = uow.portal
        factor = sf.enrol(uow.core, store, svc.policy, acct, portal)
        sf.confirm(uow.core, store, svc.policy, acct, portal, world.code(factor.secret))
    for proof in ({}, {"password": "wrong-password"}, {"code": "123456"}):
        with svc.transaction() as uow, pytest.raises(DomainError) as wrong:
            sf.disable(uow.core, uow.portal, svc.policy, acct, portal, **proof)
        assert wrong.value.code is ErrorCode.SECOND_FACTOR_INVALID
    with svc.transaction() as uow, pytest.raises(DomainError):
        sf.enrol(uow.core, uow.portal, svc.policy, acct, portal)  # already on
    with svc.transaction() as uow:
        store = uow.portal
        assert sf.disable(uow.core, store, svc.policy, acct, portal, password="koppel-demo")
        assert store.second_factor(acct.id) is None and store.recovery_codes(acct.id) == []
        # An enrolment never confirmed is dropped without proof; nothing left is a no-op.
        sf.enrol(uow.core, store, svc.policy, acct, portal)
        assert sf.disable(uow.core, store, svc.policy, acct, portal)
        assert not sf.disable(uow.core, store, svc.policy, acct, portal)
        assert not sf.reset(uow.core, store, svc.policy, "cli:admin", acct)
