"""Instance settings that admins edit: the config gives starting values, the database the rest."""

from __future__ import annotations

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
                return
            for name, value in asdict(settings).items():
                setattr(row, name, value)
