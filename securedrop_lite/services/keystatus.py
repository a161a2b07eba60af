"""Whether the submission key can encrypt right now; sources see an offline page when not."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from securedrop_lite.crypto import KeyInfo, KeyUnusableError, SubmissionKey

RECHECK_AFTER = timedelta(seconds=60)


class KeyMonitor:
    """Caches the result of SubmissionKey.check for a minute, and logs each change of state.

    The cache is per process and only saves repeated gpg calls; every process reaches
    the same answer from the same GnuPG home.
    """

    def __init__(
        self, key: SubmissionKey, clock: Callable[[], datetime], log: logging.Logger
    ) -> None:
        self.key = key
        self.clock = clock
        self.log = log
        self._lock = threading.Lock()
        self._checked_at: datetime | None = None
        self._result: KeyInfo | KeyUnusableError | None = None

    def status(self) -> KeyInfo | KeyUnusableError:
        now = self.clock()
        with self._lock:
            result, checked_at = self._result, self._checked_at
            if result is None or checked_at is None or now - checked_at >= RECHECK_AFTER:
                fresh: KeyInfo | KeyUnusableError
                try:
                    fresh = self.key.check(now)
                except KeyUnusableError as exc:
                    fresh = exc
                self._log_change(result, fresh)
                self._result, self._checked_at = fresh, now
                result = fresh
            return result

    def usable(self) -> KeyInfo | None:
        result = self.status()
        return result if isinstance(result, KeyInfo) else None

    def _log_change(
        self, previous: KeyInfo | KeyUnusableError | None, current: KeyInfo | KeyUnusableError
    ) -> None:
        if isinstance(current, KeyUnusableError):
            if not isinstance(previous, KeyUnusableError) or str(previous) != str(current):
                self.log.error("source interface offline: %s", current)
        elif isinstance(previous, KeyUnusableError):
            self.log.info("source interface back online: submission key usable again")
