"""What the ombuds sees: the inbox, one source's items, and their ciphertext for download.

Sources are named in URLs by their random store directory name (`ref`), which is
unrelated to the codename. Nothing here decrypts: the server holds no key that could.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, BinaryIO

from sqlalchemy import ColumnElement, case, func, select, update
from sqlalchemy.orm import Session

from securedrop_lite.codename import designation_slug
from securedrop_lite.db import Database
from securedrop_lite.models import Source, Submission
from securedrop_lite.services.deletion import DeletionService
from securedrop_lite.store import SOURCE_DIR_PATTERN, Store
from securedrop_lite.zipstream import ZipEntry

PER_PAGE = 50
_KIND_LABELS = {
    "msg": "message",
    "doc": "file",
    "log": "shared log entry",
    "talk": "conversation request",
}


class NoSuchSource(Exception):
    """No visible source has this ref."""


class NoSuchItem(Exception):
    """The source has no visible item with this name."""


class Selection(enum.Enum):
    CHOSEN = "chosen"
    ALL = "all"
    UNREAD = "unread"


class InboxSort(enum.Enum):
    # Starred first, then the latest activity.
    ACTIVITY = "activity"
    # Sources awaiting a first reply first, the longest waiting first; then the latest activity.
    OVERDUE = "overdue"

    @classmethod
    def parse(cls, value: str | None) -> InboxSort:
        """Return the sort a query argument names; anything else is the default."""
        try:
            return cls(value)
        except ValueError:
            return cls.ACTIVITY


@dataclass(frozen=True)
class InboxRow:
    ref: str
    designation: str
    last_activity_on: date
    unread: int
    starred: bool
    # Days since the first submission while no reply has been sent; None once replied.
    awaiting_days: int | None
    # The day a first reply is due (first submission + acknowledge_days); None once replied.
    acknowledge_by: date | None
    # Not replied to, and today is after acknowledge_by.
    overdue: bool
    # The source has a (not deleted) conversation request; its content is ciphertext.
    conversation_requested: bool


@dataclass(frozen=True)
class InboxPage:
    rows: list[InboxRow]
    number: int
    pages: int
    total: int
    sort: InboxSort = InboxSort.ACTIVITY


@dataclass(frozen=True)
class ItemView:
    file_name: str
    kind: str  # "message", "file", "shared log entry", "conversation request" or "reply"
    size: int
    created_on: date
    seen: bool


@dataclass(frozen=True)
class SourceView:
    ref: str
    designation: str
    starred: bool
    awaiting_days: int | None
    acknowledge_by: date | None
    overdue: bool
    conversation_requested: bool
    items: list[ItemView]


def _visible_source() -> ColumnElement[bool]:
    return Source.deleted.is_(False) & Source.first_submission_on.is_not(None)


def _awaiting(today: date, first_submission: date | None, first_reply: date | None) -> int | None:
    if first_reply is not None or first_submission is None:
        return None
    return (today - first_submission).days


def _deadline(
    today: date, first_submission: date | None, first_reply: date | None, acknowledge_days: int
) -> tuple[date | None, bool]:
    """Return (acknowledge_by, overdue): a first reply is due on the day first_submission +
    acknowledge_days, and overdue from the day after; no deadline once replied."""
    if first_reply is not None or first_submission is None:
        return None, False
    due = first_submission + timedelta(days=acknowledge_days)
    return due, today > due


def _order(sort: InboxSort) -> tuple[ColumnElement[Any], ...]:
    latest = (Source.last_activity_on.desc(), Source.id.desc())
    if sort is InboxSort.OVERDUE:
        awaiting = Source.first_reply_on.is_(None)
        # Replied sources all get NULL here, so the database's NULL placement does not matter.
        waiting_since = case((awaiting, Source.first_submission_on), else_=None)
        return (case((awaiting, 0), else_=1), waiting_since.asc(), *latest)
    return (Source.starred.desc(), *latest)


def _already_open(file: BinaryIO) -> Callable[[], BinaryIO]:
    return lambda: file


class OpenedItems(list[ZipEntry]):
    """Entries whose files are open already; close() releases any a download never reached."""

    def __init__(self, entries: list[ZipEntry], files: list[BinaryIO]) -> None:
        super().__init__(entries)
        self._files = files

    def close(self) -> None:
        for file in self._files:
            file.close()

    def __enter__(self) -> OpenedItems:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class InboxService:
    def __init__(
        self,
        db: Database,
        store: Store,
        deletion: DeletionService,
        clock: Callable[[], datetime],
        *,
        acknowledge_days: int = 7,
    ) -> None:
        if acknowledge_days < 1:
            raise ValueError("acknowledge_days must be at least 1")
        self.db = db
        self.store = store
        self.deletion = deletion
        self.clock = clock
        self.acknowledge_days = acknowledge_days

    def page(
        self, number: int, per_page: int = PER_PAGE, sort: InboxSort = InboxSort.ACTIVITY
    ) -> InboxPage:
        """Return one page of sources in the given order, in two queries whatever the page size."""
        unread = (
            select(func.count(Submission.id))
            .where(
                Submission.source_id == Source.id,
                Submission.seen.is_(False),
                Submission.deleted.is_(False),
            )
            .correlate(Source)
            .scalar_subquery()
        )
        talk = (
            select(Submission.id)
            .where(
                Submission.source_id == Source.id,
                Submission.kind == "talk",
                Submission.deleted.is_(False),
            )
            .correlate(Source)
            .exists()
        )
        visible = _visible_source()
        with self.db.session() as s:
            total = s.scalar(select(func.count(Source.id)).where(visible)) or 0
            pages = max(1, math.ceil(total / per_page))
            number = min(max(number, 1), pages)
            rows = s.execute(
                select(
                    Source.store_dir,
                    Source.designation,
                    Source.last_activity_on,
                    unread,
                    Source.starred,
                    Source.first_submission_on,
                    Source.first_reply_on,
                    talk,
                )
                .where(visible)
                .order_by(*_order(sort))
                .limit(per_page)
                .offset((number - 1) * per_page)
            ).all()
        today = self.clock().date()
        days = self.acknowledge_days
        return InboxPage(
            [
                InboxRow(
                    ref,
                    name,
                    last,
                    count or 0,
                    starred,
                    _awaiting(today, first, replied),
                    *_deadline(today, first, replied, days),
                    bool(talked),
                )
                for ref, name, last, count, starred, first, replied, talked in rows
            ],
            number,
            pages,
            total,
            sort,
        )

    def _source(self, s: Session, ref: str) -> Source:
        if not SOURCE_DIR_PATTERN.fullmatch(ref):
            raise NoSuchSource
        source = s.scalars(
            select(Source).where(Source.store_dir == ref, _visible_source())
        ).one_or_none()
        if source is None:
            raise NoSuchSource
        return source

    def source(self, ref: str) -> SourceView:
        """Return one source's items, oldest first."""
        with self.db.session() as s:
            source = self._source(s, ref)
            items = [
                ItemView(sub.file_name, _KIND_LABELS[sub.kind], sub.size, sub.created_on, sub.seen)
                for sub in source.submissions
                if not sub.deleted
            ] + [
                ItemView(r.file_name, "reply", r.size, r.created_on, True)
                for r in source.replies
                if not r.deleted
            ]
            first, replied = source.first_submission_on, source.first_reply_on
            today = self.clock().date()
            view = SourceView(
                ref,
                source.designation,
                source.starred,
                _awaiting(today, first, replied),
                *_deadline(today, first, replied, self.acknowledge_days),
                any(sub.kind == "talk" and not sub.deleted for sub in source.submissions),
                sorted(items, key=lambda item: int(item.file_name.split("-", 1)[0])),
            )
        return view

    def set_starred(self, ref: str, starred: bool) -> None:
        with self.db.session() as s:
            self._source(s, ref).starred = starred

    def mark_seen(self, ref: str, file_names: list[str] | None = None) -> None:
        """Mark the named submissions (or all of them) as seen."""
        with self.db.session() as s:
            source = self._source(s, ref)
            query = update(Submission).where(Submission.source_id == source.id)
            if file_names is not None:
                query = query.where(Submission.file_name.in_(file_names))
            s.execute(query.values(seen=True))

    def entries(self, ref: str, selection: Selection, chosen: list[str]) -> OpenedItems:
        """Return the ciphertexts to download, and mark the submissions among them seen.

        Zip members are named "<designation>/<file name>", so the air-gapped tool can
        put each source's plaintext in its own folder.
        """
        view = self.source(ref)
        if selection is Selection.ALL:
            items = view.items
        elif selection is Selection.UNREAD:
            items = [item for item in view.items if not item.seen]
        else:
            wanted = set(chosen)
            items = [item for item in view.items if item.file_name in wanted]
            if len(items) != len(wanted):
                raise NoSuchItem
        folder = designation_slug(view.designation)
        files = self._open_all(ref, [item.file_name for item in items])
        entries = [
            ZipEntry(f"{folder}/{item.file_name}", item.size, item.created_on, _already_open(f))
            for item, f in zip(items, files, strict=True)
        ]
        self.mark_seen(ref, [item.file_name for item in items])
        return OpenedItems(entries, files)

    def item(self, ref: str, file_name: str) -> OpenedItems:
        """Return one ciphertext to download, and mark it seen."""
        for item in self.source(ref).items:
            if item.file_name == file_name:
                files = self._open_all(ref, [file_name])
                self.mark_seen(ref, [file_name])
                entry = ZipEntry(file_name, item.size, item.created_on, _already_open(files[0]))
                return OpenedItems([entry], files)
        raise NoSuchItem

    def _open_all(self, ref: str, file_names: list[str]) -> list[BinaryIO]:
        """Open every file before the response starts, so a missing one is an error page,
        not a cut-off download; the store's shared locks keep purges off them meanwhile."""
        files: list[BinaryIO] = []
        try:
            for name in file_names:
                files.append(self.store.open_item(ref, name))
        except BaseException:
            for file in files:
                file.close()
            raise
        return files

    def delete_items(self, ref: str, file_names: list[str]) -> int:
        """Delete the named items of a source (submissions or replies); return how many."""
        with self.db.session() as s:
            source_id = self._source(s, ref).id
        deleted = self.deletion.tombstone_items(source_id, file_names)
        self.deletion.purge(source_id)
        return deleted

    def delete_source(self, ref: str) -> None:
        """Delete a source with everything it sent and every reply it was sent."""
        with self.db.session() as s:
            source_id = self._source(s, ref).id
        self.deletion.tombstone_source(source_id)
        self.deletion.purge(source_id)
