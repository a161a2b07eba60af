"""Attempts counted per key and minute, across every worker process, on SQLite and PostgreSQL.

The source interface counts codename logins per browser session with it. The count is
taken before the expensive check runs, so parallel guesses cannot slip past the limit
while earlier ones are being verified, and an attempt over the limit costs the server one
small write instead of an Argon2id derivation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from securedrop_lite.db import Database
from securedrop_lite.models import ThrottleCounter

WINDOW = timedelta(minutes=1)
_INSERT_ATTEMPTS = 3  # a concurrent first attempt under the same key wins the insert


@dataclass(frozen=True)
class Admission:
    admitted: bool
    retry_after_seconds: int  # until the current window ends; 0 when admitted


def throttle_key(purpose: str, secret: bytes) -> bytes:
    """A counter's key: a hash of what it counts, so the table names nothing."""
    return hashlib.sha256(purpose.encode() + b"\0" + secret).digest()


class Throttle:
    """Fixed one-minute windows: at most `limit` attempts per key in each."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock

    def admit(self, key: bytes, limit: int) -> Admission:
        """Count one attempt under key; admit it if the window holds at most limit."""
        now = self.clock()
        window = now.replace(second=0, microsecond=0)
        retry_after = max(1, int((window + WINDOW - now).total_seconds()))
        for _ in range(_INSERT_ATTEMPTS):
            try:
                count = self._count(key, window)
            except IntegrityError:
                continue  # another attempt made the row first: count again on it
            if count <= limit:
                return Admission(True, 0)
            return Admission(False, retry_after)
        return Admission(False, retry_after)

    def _count(self, key: bytes, window: datetime) -> int:
        with self.db.session() as s:
            # A write comes first: it takes SQLite's write lock, and on PostgreSQL it locks
            # the row, so the increment and the read below see every earlier attempt.
            bumped = s.execute(
                update(ThrottleCounter)
                .where(ThrottleCounter.key == key, ThrottleCounter.window == window)
                .values(count=ThrottleCounter.count + 1)
            )
            if bumped.rowcount == 0:  # type: ignore[attr-defined]
                s.execute(delete(ThrottleCounter).where(ThrottleCounter.window < window))
                s.add(ThrottleCounter(key=key, window=window, count=1))
                s.flush()
            return s.scalar(select(ThrottleCounter.count).where(ThrottleCounter.key == key)) or 0

    def forget(self, key: bytes) -> None:
        """Drop a key's count, after it succeeded."""
        with self.db.session() as s:
            s.execute(delete(ThrottleCounter).where(ThrottleCounter.key == key))
