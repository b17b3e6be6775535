"""Cheaper password hashes for the demo templates the tests copy.

The server verifies a password with the argon2id parameters stored in its hash, so the
demo accounts of a test template get hashes of the same password with small parameters:
every sign-in and scripted "Save settings" of the suite then costs about a millisecond
instead of ~50 ms, while the server's code path (argon2id verification) stays the one
production runs. New accounts and passwords set by a test still get the real parameters.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from harness import DEMO_PASSWORD

_CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
_ANY = PasswordHasher()


def cheapen_demo_passwords(database: Path) -> int:
    """Rehash, with small parameters, every account whose password is the demo's; the
    number of accounts changed."""
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT id, password_hash FROM accounts").fetchall()
        changed = 0
        for account_id, stored in rows:
            try:
                _ANY.verify(stored, DEMO_PASSWORD)
            except (VerificationError, InvalidHashError):
                continue
            db.execute(
                "UPDATE accounts SET password_hash = ? WHERE id = ?",
                (_CHEAP.hash(DEMO_PASSWORD), account_id),
            )
            changed += 1
    db.close()
    return changed
