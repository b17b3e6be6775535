"""Subject and date of mail files: Outlook .msg files read with olefile (built by
tests/msg_support.py: olefile cannot write, and the .msg writers are GPL)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import olefile

from koppel.agent.mail_files import mail_header, msg_header
from msg_support import msg_file

SENT = datetime(2026, 11, 3, 8, 15, tzinfo=UTC)
DELIVERED = datetime(2026, 11, 3, 8, 17, 5, tzinfo=UTC)


def test_the_test_msg_is_a_valid_compound_file(tmp_path: Path) -> None:
    path = tmp_path / "m.msg"
    path.write_bytes(msg_file("Hallo", SENT, DELIVERED))
    # Strict: every defect olefile can detect short of a fatal one raises.
    with olefile.OleFileIO(str(path), raise_defects=olefile.DEFECT_INCORRECT) as ole:
        assert sorted(ole.listdir()) == [["__properties_version1.0"], ["__substg1.0_0037001F"]]
        assert ole.parsing_issues == []


def test_msg_subject_and_sent_time(tmp_path: Path) -> None:
    path = tmp_path / "m.msg"
    path.write_bytes(msg_file("Jaarrekening 2025 – concept €", SENT, DELIVERED))
    assert msg_header(path) == ("Jaarrekening 2025 – concept €", "2026-11-03T08:15:00+00:00")
    assert mail_header(path) == msg_header(path)


def test_msg_without_submit_time_uses_the_delivery_time_and_8bit_subjects(
    tmp_path: Path,
) -> None:
    path = tmp_path / "m.MSG"
    path.write_bytes(msg_file("Factuur café", None, DELIVERED, unicode=False))
    assert mail_header(path) == ("Factuur café", "2026-11-03T08:17:05+00:00")


def test_msg_without_subject_or_time_and_files_that_are_not_msg(tmp_path: Path) -> None:
    bare = tmp_path / "bare.msg"
    bare.write_bytes(msg_file(None))
    assert msg_header(bare) == (None, None)
    fake = tmp_path / "fake.msg"
    fake.write_bytes(b"From: x\r\nSubject: not OLE\r\n\r\n")
    assert msg_header(fake) == (None, None)
    truncated = tmp_path / "truncated.msg"
    truncated.write_bytes(msg_file("Hallo", SENT)[:700])
    assert msg_header(truncated) == (None, None)
    assert msg_header(tmp_path / "missing.msg") == (None, None)


def test_damaged_msg_files_give_no_header_and_no_error(tmp_path: Path) -> None:
    """olefile raises many kinds of errors on damaged files (an OverflowError was found
    this way); the file is then sent without a subject or date from it."""
    good = msg_file("Hallo", SENT, DELIVERED)
    path = tmp_path / "damaged.msg"
    chance = random.Random(12)
    for _ in range(400):
        damaged = bytearray(good)
        for _ in range(chance.randint(1, 8)):
            damaged[chance.randrange(len(damaged))] = chance.randrange(256)
        path.write_bytes(bytes(damaged[: chance.choice([len(damaged), chance.randrange(600)])]))
        subject, date = msg_header(path)
        assert subject is None or isinstance(subject, str)
        assert date is None or datetime.fromisoformat(date).tzinfo is not None
