"""Deletion in two steps: a tombstone hides data at once, then a purge destroys it.

The purge overwrites each file before unlinking it, and SQLite's `secure_delete` zeroes
the freed rows. Tombstones are committed before any file is touched, so a purge killed
midway leaves only tombstones behind, and the next `sdlite purge` finishes the job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import select, update

from securedrop_lite.db import Database
from securedrop_lite.models import Reply, Source, Submission
from securedrop_lite.store import Store, StoreError

log = logging.getLogger("sdlite.deletion")

# Sources that never submitted anything are kept this long, then expire.
UNUSED_SOURCE_LIFETIME = timedelta(days=1)


@dataclass(frozen=True)
class PurgeReport:
    sources: int = 0
    items: int = 0
    failed: int = 0  # kept their tombstone, for the next purge

    def __add__(self, other: PurgeReport) -> PurgeReport:
        return PurgeReport(
            self.sources + other.sources, self.items + other.items, self.failed + other.failed
        )


class DeletionService:
    def __init__(self, db: Database, store: Store, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.store = store
        self.clock = clock

    def tombstone_items(self, source_id: int, file_names: list[str]) -> int:
        """Hide the named submissions and replies of a source; return how many."""
        hidden = 0
        with self.db.session() as s:
            for model in (Submission, Reply):
                result = s.execute(
                    update(model)
                    .where(model.source_id == source_id, model.file_name.in_(file_names))
                    .where(model.deleted.is_(False))
                    .values(deleted=True)
                )
                hidden += result.rowcount  # type: ignore[attr-defined]
        return hidden

    def tombstone_source(self, source_id: int) -> None:
        with self.db.session() as s:
            s.execute(update(Source).where(Source.id == source_id).values(deleted=True))

    def expire(self, older_than: timedelta | None) -> int:
        """Tombstone sources idle longer than older_than, and unused ones; return how many."""
        today = self.clock().date()
        unused = Source.first_submission_on.is_(None) & (
            Source.created_on < today - UNUSED_SOURCE_LIFETIME
        )
        stale = unused
        if older_than is not None:
            cutoff = today - older_than
            # A recent reply counts as activity: its source should get to read it.
            recent_reply = (
                select(Reply.id)
                .where(Reply.source_id == Source.id, Reply.created_on >= cutoff)
                .exists()
            )
            stale = stale | ((Source.last_activity_on < cutoff) & ~recent_reply)
        with self.db.session() as s:
            result = s.execute(
                update(Source).where(Source.deleted.is_(False), stale).values(deleted=True)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def expire_conversation_requests(self, older_than: timedelta) -> int:
        """Tombstone conversation requests made more than older_than ago; return how many.

        A request made exactly older_than ago is kept (created_on < today - older_than,
        the rule of `expire`): with 30 days, a request of 1 May is purged from 1 June on.
        Only the request goes: the source's other items and its last activity stay.
        """
        if older_than < timedelta(days=1):
            raise ValueError("conversation requests are kept at least one day")
        cutoff = self.clock().date() - older_than
        with self.db.session() as s:
            result = s.execute(
                update(Submission)
                .where(
                    Submission.kind == "talk",
                    Submission.deleted.is_(False),
                    Submission.created_on < cutoff,
                )
                .values(deleted=True)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def purge(self, source_id: int | None = None) -> PurgeReport:
        """Destroy what is tombstoned (of one source, or all): files first, then their rows.

        A file or folder that cannot be destroyed now keeps its tombstone, is counted as
        failed, and is tried again at the next purge; the rest goes on.
        """
        return self._purge_items(source_id) + self._purge_sources(source_id)

    def _purge_items(self, source_id: int | None) -> PurgeReport:
        report = PurgeReport()
        for model in (Submission, Reply):
            query = (
                select(model.id, Source.store_dir, model.file_name)
                .join(Source, model.source_id == Source.id)
                .where(model.deleted.is_(True))
            )
            if source_id is not None:
                query = query.where(Source.id == source_id)
            with self.db.session() as s:
                rows = s.execute(query).all()
            for row_id, store_dir, file_name in rows:
                if not self._destroy(partial(self.store.delete_item, store_dir, file_name)):
                    report += PurgeReport(failed=1)
                    continue
                with self.db.session() as s:
                    row = s.get(model, row_id)
                    if row is not None:
                        s.delete(row)
                report += PurgeReport(items=1)
        return report

    def _purge_sources(self, source_id: int | None) -> PurgeReport:
        query = select(Source.id, Source.store_dir).where(Source.deleted.is_(True))
        if source_id is not None:
            query = query.where(Source.id == source_id)
        with self.db.session() as s:
            doomed = s.execute(query).all()
        report = PurgeReport()
        for doomed_id, store_dir in doomed:
            if not self._destroy(partial(self.store.delete_source_dir, store_dir)):
                report += PurgeReport(failed=1)
                continue
            with self.db.session() as s:
                source = s.get(Source, doomed_id)
                if source is not None:
                    s.delete(source)  # its submissions and replies go with it
            report += PurgeReport(sources=1)
        return report

    @staticmethod
    def _destroy(action: Callable[[], None]) -> bool:
        try:
            action()
        except (StoreError, OSError) as exc:
            # The type only: a message could name a file.
            log.warning("purge deferred: %s", type(exc).__name__)
            return False
        return True
