"""Instance settings that admins edit: the config gives starting values, the database the rest."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields

from securedrop_lite.config import MIB
from securedrop_lite.db import Database
from securedrop_lite.models import InstanceSettingsRow

_ROW_ID = 1
# The largest upload an admin may allow: far beyond what Tor carries in a sitting.
MAX_UPLOAD_CEILING_BYTES = 2048 * MIB
MAX_RETENTION_DAYS = 3650


class InvalidSettings(ValueError):
    """A setting is out of range; the message says which and what is allowed."""


@dataclass(frozen=True)
class InstanceSettings:
    organization_name: str
    welcome_text: str
    response_promise: str
    allow_uploads: bool
    max_upload_bytes: int
    retention_days: int

    def check(self) -> None:
        """Raise InvalidSettings for what an admin may not set (the config file may go further)."""
        if not self.organization_name.strip() or len(self.organization_name) > 100:
            raise InvalidSettings("The organization name must be 1 to 100 characters.")
        if len(self.welcome_text) > 2000:
            raise InvalidSettings("The welcome text must be at most 2,000 characters.")
        if len(self.response_promise) > 200:
            raise InvalidSettings("The response-time promise must be at most 200 characters.")
        if not MIB <= self.max_upload_bytes <= MAX_UPLOAD_CEILING_BYTES:
            raise InvalidSettings("The largest upload must be between 1 and 2,048 MiB.")
        if not 0 <= self.retention_days <= MAX_RETENTION_DAYS:
            raise InvalidSettings("Retention must be between 0 (keep) and 3,650 days.")

    @classmethod
    def taken_from(cls, holder: object) -> InstanceSettings:
        """Read every setting from an object with the same attribute names (Config, a row)."""
        return cls(**{f.name: getattr(holder, f.name) for f in fields(cls)})


class SettingsService:
    """Reads the current settings on every call, so every worker process agrees."""

    def __init__(self, db: Database, defaults: InstanceSettings) -> None:
        self.db = db
        self.defaults = defaults
        self.generation = 0  # counts this process's updates, so its caches see them at once

    def current(self) -> InstanceSettings:
        with self.db.session() as s:
            row = s.get(InstanceSettingsRow, _ROW_ID)
            return self.defaults if row is None else InstanceSettings.taken_from(row)

    def update(self, settings: InstanceSettings) -> None:
        """Save settings; from now on they, not the config file, are the instance's."""
        settings.check()
        with self.db.session() as s:
            row = s.get(InstanceSettingsRow, _ROW_ID)
            if row is None:
                s.add(InstanceSettingsRow(id=_ROW_ID, **asdict(settings)))
            else:
                for name, value in asdict(settings).items():
                    setattr(row, name, value)
        self.generation += 1  # after the commit: a cache refilled now reads the new row


class RecentSettings:
    """The settings as read at most `max_age` seconds ago, for a page served on every request.

    The source interface reads the settings before every request; one read costs more
    than the rest of a small page. An admin's change (made in the ombuds interface, in
    another process) reaches the source interface within `max_age`; a change made in
    this process, at once.
    """

    def __init__(
        self,
        settings: SettingsService,
        max_age: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.max_age = max_age
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._value: InstanceSettings | None = None
        self._read_at = 0.0
        self._generation = -1

    def current(self) -> InstanceSettings:
        now = self.monotonic()
        with self._lock:
            value = self._value
            fresh = now - self._read_at < self.max_age
            if value is None or not fresh or self._generation != self.settings.generation:
                self._generation = self.settings.generation
                value = self._value = self.settings.current()
                self._read_at = now
            return value
