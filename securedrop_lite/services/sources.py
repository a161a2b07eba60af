"""Source verbs: make a codename, create the source, log in, read replies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from securedrop_lite.codename import CodenameGenerator, DesignationGenerator, MalformedCodename
from securedrop_lite.crypto import DecryptionError, SourceKeyPair
from securedrop_lite.db import Database
from securedrop_lite.kdf import CodenameKdf
from securedrop_lite.models import Source
from securedrop_lite.services.deletion import DeletionService
from securedrop_lite.store import Store

_DESIGNATION_ATTEMPTS = 20


class LoginFailed(Exception):
    """The codename is malformed or unknown. Callers cannot tell which."""


class UnknownSource(Exception):
    """The session refers to a source that no longer exists."""


def find_source(session: Session, lookup_id: str) -> Source | None:
    """Return the source with this lookup id, unless there is none or it is being deleted."""
    return session.scalars(
        select(Source).where(Source.lookup_id == lookup_id, Source.deleted.is_(False))
    ).one_or_none()


@dataclass(frozen=True)
class SourceIdentity:
    """What a source's session carries: the lookup id and the key seed, never the codename."""

    lookup_id: str
    key_seed: bytes


@dataclass(frozen=True)
class ReadableReply:
    number: int
    text: str
    created_on: date


@dataclass(frozen=True)
class Deadlines:
    """What the office aims for, in days from a source's first submission."""

    acknowledge_days: int
    respond_days: int


@dataclass(frozen=True)
class SourceSummary:
    submission_count: int
    submission_dates: list[date]
    replies: list[ReadableReply]
    unreadable_replies: int
    # The office's targets, from the first submission; None before there is one.
    acknowledge_by: date | None = None
    respond_by: date | None = None
    # The day of the latest conversation request still kept, if any.
    conversation_requested_on: date | None = None

    @property
    def first_received_on(self) -> date | None:
        return min(self.submission_dates, default=None)


class SourceService:
    """Creates sources and finds returning ones by their codename's derivations."""

    def __init__(
        self,
        db: Database,
        store: Store,
        codenames: CodenameGenerator,
        designations: DesignationGenerator,
        kdf: CodenameKdf,
        clock: Callable[[], datetime],
        deletion: DeletionService,
        deadlines: Deadlines,
    ) -> None:
        self.db = db
        self.store = store
        self.codenames = codenames
        self.designations = designations
        self.kdf = kdf
        self.clock = clock
        self.deletion = deletion
        self.deadlines = deadlines

    def _identity(self, codename: str) -> SourceIdentity:
        return SourceIdentity(self.kdf.source_id(codename), self.kdf.key_seed(codename))

    def new_identity(self) -> tuple[str, SourceIdentity]:
        """Draw a codename to show once, and the derivations that the session may keep."""
        codename = self.codenames.generate()
        return codename, self._identity(codename)

    def create(self, identity: SourceIdentity) -> str:
        """Create the source for a freshly drawn identity and return its designation."""
        today = self.clock().date()
        public_key = SourceKeyPair(identity.key_seed).public_bytes
        for _ in range(_DESIGNATION_ATTEMPTS):
            try:
                with self.db.session() as s:
                    existing = find_source(s, identity.lookup_id)
                    if existing is not None:
                        return existing.designation
                    source = Source(
                        lookup_id=identity.lookup_id,
                        store_dir=self.store.new_source_dir(),
                        designation=self.designations.generate(),
                        public_key=public_key,
                        created_on=today,
                        last_activity_on=today,
                    )
                    s.add(source)
                return source.designation
            except IntegrityError:
                continue  # a designation collision: draw again
        raise RuntimeError("could not draw a free designation")

    def login(self, typed_codename: str) -> SourceIdentity:
        """Return the identity of a returning source, or raise LoginFailed."""
        try:
            codename = self.codenames.normalize(typed_codename)
        except MalformedCodename as exc:
            raise LoginFailed from exc
        identity = self._identity(codename)
        with self.db.session() as s:
            found = find_source(s, identity.lookup_id)
        if found is None:
            raise LoginFailed
        return identity

    def has_submitted(self, identity: SourceIdentity) -> bool:
        """Whether the source has ever submitted (without opening any reply)."""
        with self.db.session() as s:
            source = find_source(s, identity.lookup_id)
            if source is None:
                raise UnknownSource
            return source.first_submission_on is not None

    def summary(self, identity: SourceIdentity) -> SourceSummary:
        """Return what a logged-in source may see: their count of items and their replies."""
        keys = SourceKeyPair(identity.key_seed)
        with self.db.session() as s:
            source = find_source(s, identity.lookup_id)
            if source is None:
                raise UnknownSource
            dates = [sub.created_on for sub in source.submissions if not sub.deleted]
            requests = [
                sub.created_on
                for sub in source.submissions
                if sub.kind == "talk" and not sub.deleted
            ]
            first = source.first_submission_on
            boxes = [
                (r.number, r.source_box, r.created_on) for r in source.replies if not r.deleted
            ]
        replies, unreadable = [], 0
        for number, box, created_on in boxes:
            try:
                text = keys.open(box).decode("utf-8")
            except (DecryptionError, UnicodeDecodeError):
                unreadable += 1
                continue
            replies.append(ReadableReply(number, text, created_on))
        days = self.deadlines
        return SourceSummary(
            len(dates),
            dates,
            replies,
            unreadable,
            acknowledge_by=None if first is None else first + timedelta(days.acknowledge_days),
            respond_by=None if first is None else first + timedelta(days.respond_days),
            conversation_requested_on=max(requests, default=None),
        )

    def withdraw(self, identity: SourceIdentity) -> None:
        """Delete the source with everything they sent, every reply and their incident log.

        The tombstone hides it all at once; the purge then overwrites the files and
        removes the rows, and the codename stops working.
        """
        with self.db.session() as s:
            source = find_source(s, identity.lookup_id)
            if source is None:
                raise UnknownSource
            source_id = source.id
        self.deletion.tombstone_source(source_id)
        self.deletion.purge(source_id)
