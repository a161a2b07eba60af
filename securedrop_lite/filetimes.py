"""File times rounded down to the day, so the file system never records a time of day (P4)."""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, datetime
from pathlib import Path


def start_of_day(now: datetime) -> float:
    """Return the POSIX time of midnight UTC on now's day."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day.timestamp()


def set_times_to_day(now: datetime, *paths: Path) -> None:
    """Set each path's access and modification times to midnight UTC of now's day."""
    day = start_of_day(now)
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.utime(path, (day, day), follow_symlinks=False)
