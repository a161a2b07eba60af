"""The audit log: which kind of event happened on which day. No user, no source, no address."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select

from securedrop_lite.db import Database
from securedrop_lite.models import AuditEvent


class Event(enum.StrEnum):
    LOGIN_SUCCEEDED = "login succeeded"
    LOGIN_FAILED = "login failed"
    DOWNLOAD = "download"
    REPLY = "reply"
    ITEMS_DELETED = "items deleted"
    SOURCE_DELETED = "source deleted"
    PURGE = "retention purge"
    USER_ADDED = "user added"
    USER_DELETED = "user deleted"
    PASSPHRASE_RESET = "passphrase reset"  # noqa: S105  # nosec B105 # an event name
    TWO_FACTOR_RESET = "two-factor reset"
    ADMIN_GRANTED = "admin granted"
    ADMIN_REVOKED = "admin revoked"
    SETTINGS_CHANGED = "settings changed"
    ONION_KEY_REISSUED = "tor client key reissued"
    INFO_PAGE_CHANGED = "information page changed"


@dataclass(frozen=True)
class AuditPage:
    events: list[tuple[str, date]]
    total: int


class AuditLog:
    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock

    def record(self, event: Event) -> None:
        with self.db.session() as s:
            s.add(AuditEvent(event=event.value, occurred_on=self.clock().date()))

    def page(self, number: int, per_page: int = 100) -> AuditPage:
        """Return one page of events, newest first."""
        with self.db.session() as s:
            total = s.scalar(select(func.count()).select_from(AuditEvent)) or 0
            number = min(max(number, 1), max(1, -(-total // per_page)))
            rows = s.execute(
                select(AuditEvent.event, AuditEvent.occurred_on)
                .order_by(AuditEvent.id.desc())
                .limit(per_page)
                .offset((number - 1) * per_page)
            ).all()
        return AuditPage([(event, day) for event, day in rows], total)
