"""Replies from the ombuds: sealed to the source's key, and encrypted to the ombuds' own key."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select

from securedrop_lite.crypto import CryptoError, SubmissionKey, seal_to_source
from securedrop_lite.db import Database
from securedrop_lite.models import MAX_NUMBER, Reply, Source
from securedrop_lite.services.deletion import DeletionService
from securedrop_lite.services.inbox import NoSuchSource
from securedrop_lite.services.items import StorageFailed, all_or_nothing
from securedrop_lite.services.sources import SourceIdentity, UnknownSource, find_source
from securedrop_lite.store import SOURCE_DIR_PATTERN, StagedFile, Store

REPLY_FILE_NAME = "reply.txt"


class ReplyRefused(Exception):
    """The reply is empty or too long; the message says which."""


class NoSuchReply(Exception):
    """The logged-in source has no reply with this number."""


class ReplyService:
    def __init__(
        self,
        db: Database,
        store: Store,
        key: SubmissionKey,
        deletion: DeletionService,
        max_chars: int,
        clock: Callable[[], datetime],
    ) -> None:
        self.db = db
        self.store = store
        self.key = key
        self.deletion = deletion
        self.max_chars = max_chars
        self.clock = clock

    def reply(self, ref: str, text: str) -> int:
        """Encrypt a reply both ways and store it; return its item number."""
        if not text.strip():
            raise ReplyRefused("Please write a reply.")
        if len(text) > self.max_chars:
            raise ReplyRefused(f"A reply can be at most {self.max_chars:,} characters.")
        if not SOURCE_DIR_PATTERN.fullmatch(ref):
            raise NoSuchSource
        with self.db.session() as s:
            source = s.scalars(
                select(Source).where(Source.store_dir == ref, Source.deleted.is_(False))
            ).one_or_none()
            if source is None or source.first_submission_on is None:
                raise NoSuchSource
            public_key = source.public_key
        plaintext = text.encode("utf-8")
        box = seal_to_source(public_key, plaintext)
        staged = self.store.stage()
        try:
            self.key.encrypt(plaintext, staged.file, REPLY_FILE_NAME)
        except CryptoError as exc:
            staged.discard()
            raise StorageFailed(str(exc)) from exc
        return self._store(ref, box, staged)

    def _store(self, ref: str, box: bytes, staged: StagedFile) -> int:
        with all_or_nothing(self.store, [("reply", staged)]) as commit, self.db.session() as s:
            source = s.scalars(select(Source).where(Source.store_dir == ref)).one_or_none()
            stored = None if source is None else commit.name_all(s, source)
            if source is None or stored is None:
                raise NoSuchSource
            (item,) = stored
            today = self.clock().date()
            s.add(
                Reply(
                    source_id=source.id,
                    number=item.number,
                    file_name=item.file_name,
                    size=item.size,
                    source_box=box,
                    created_on=today,
                )
            )
            if source.first_reply_on is None:
                source.first_reply_on = today
        return item.number

    def delete_for_source(self, identity: SourceIdentity, number: int) -> None:
        """Delete one of the logged-in source's own replies; another's is NoSuchReply."""
        if not 1 <= number <= MAX_NUMBER:  # beyond the column's range (on PostgreSQL, an error)
            raise NoSuchReply
        with self.db.session() as s:
            source = find_source(s, identity.lookup_id)
            if source is None:
                raise UnknownSource
            reply = s.scalars(
                select(Reply).where(
                    Reply.source_id == source.id, Reply.number == number, Reply.deleted.is_(False)
                )
            ).one_or_none()
            if reply is None:
                raise NoSuchReply
            source_id, file_name = source.id, reply.file_name
        self.deletion.tombstone_items(source_id, [file_name])
        self.deletion.purge(source_id)
