"""A worker's private incident log: entries only their codename can open, each with a receipt.

Every version of an entry is one box sealed to the worker's X25519 key (derived from the
codename, never stored). The receipt, the instance's Ed25519 signature over the entry's
SHA-256 and the day, goes *inside* the box: a seized server holds neither the entry nor
the digest, so it cannot even confirm a guess of what an entry says (P2).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from securedrop_lite.crypto import DecryptionError, SourceKeyPair, seal_to_source
from securedrop_lite.db import Database
from securedrop_lite.models import LogEntry, Source
from securedrop_lite.receipts import (
    Receipt,
    ReceiptInvalid,
    ReceiptKey,
    entry_digest,
    entry_document,
)
from securedrop_lite.services.sources import SourceIdentity, UnknownSource, find_source
from securedrop_lite.services.submissions import TextItem

# Boxes are padded to a multiple of this, so their size says little about the entry's.
PAD_BYTES = 1024
# Bounds on what one codename can make the server hold and decrypt in one request: an
# entry is a note, not a document (a long text goes to the ombuds as a message).
MAX_ENTRY_CHARS = 20_000
MAX_ENTRIES = 200
MAX_VERSIONS = 50
_WRITE_ATTEMPTS = 5
ENTRY_REF_BYTES = 16
ENTRY_FILE_NAME = "incident-log-entry.txt"


class EntryRefused(ValueError):
    """The entry is empty ("what"), too long ("length"), or one too many ("entries",
    "versions"); the interface words it."""


class NoSuchEntry(Exception):
    """The logged-in worker has no entry (or version) by that name."""


@dataclass(frozen=True)
class EntryFields:
    """What the worker writes, each in their own words ("when" is free text, not a date)."""

    when: str = ""
    where: str = ""
    present: str = ""
    what: str = ""
    witnesses: str = ""

    def normalized(self) -> EntryFields:
        """Return the fields with Windows line ends made plain and outer blanks trimmed."""
        return EntryFields(
            **{
                k: v.replace("\r\n", "\n").replace("\r", "\n").strip()
                for k, v in asdict(self).items()
            }
        )

    def check(self, max_chars: int) -> None:
        if not self.what.strip():
            raise EntryRefused("what")
        if sum(len(v) for v in asdict(self).values()) > max_chars:
            raise EntryRefused("length")


@dataclass(frozen=True)
class EntryLabels:
    """The headings written into the entry's text, in the worker's language."""

    when: str
    where: str
    present: str
    what: str
    witnesses: str


def entry_text(entry: EntryFields, labels: EntryLabels) -> str:
    """Return the text the receipt covers: each filled-in field under its heading."""
    blocks = [
        f"{getattr(labels, f.name)}:\n{getattr(entry, f.name)}"
        for f in fields(EntryFields)
        if getattr(entry, f.name)
    ]
    return "\n\n".join(blocks) + "\n"


@dataclass(frozen=True)
class EntryVersion:
    version: int
    created_on: date
    fields: EntryFields
    text: str
    receipt: Receipt


@dataclass(frozen=True)
class EntrySummary:
    ref: str
    latest: EntryVersion
    versions: int


def _pad(data: bytes) -> bytes:
    # JSON ignores trailing whitespace, so spaces pad without a length field.
    return data + b" " * (-len(data) % PAD_BYTES)


class IncidentLogService:
    def __init__(
        self,
        db: Database,
        receipt_key: Callable[[], ReceiptKey],
        submit_texts: Callable[[SourceIdentity, list[TextItem]], int],
        max_chars: int,
        clock: Callable[[], datetime],
    ) -> None:
        self.db = db
        self.receipt_key = receipt_key
        self.submit_texts = submit_texts
        self.max_chars = max_chars
        self.clock = clock

    def _seal(self, public_key: bytes, entry: EntryFields, labels: EntryLabels) -> bytes:
        today = self.clock().date()
        text = entry_text(entry, labels)
        receipt = self.receipt_key().sign(entry_digest(text), today)
        plain = json.dumps(
            {"v": 1, "fields": asdict(entry), "text": text, "receipt": receipt.to_dict()},
            ensure_ascii=False,
        ).encode("utf-8")
        return seal_to_source(public_key, _pad(plain))

    @staticmethod
    def _open(keys: SourceKeyPair, row: LogEntry) -> EntryVersion:
        try:
            data = json.loads(keys.open(row.box).decode("utf-8"))
            return EntryVersion(
                row.version,
                row.created_on,
                EntryFields(**data["fields"]),
                data["text"],
                Receipt.from_dict(data["receipt"]),
            )
        except (DecryptionError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise NoSuchEntry from exc

    def _write(
        self, identity: SourceIdentity, ref: str | None, entry: EntryFields, labels: EntryLabels
    ) -> tuple[str, int]:
        entry = entry.normalized()
        entry.check(min(self.max_chars, MAX_ENTRY_CHARS))
        with self.db.session() as s:
            public_key = self._source_id_and_key(s, identity)[1]
        box = self._seal(public_key, entry, labels)
        # Two tabs may revise one entry at once: the second to commit draws the next number.
        for _ in range(_WRITE_ATTEMPTS):
            try:
                return self._insert(identity, ref, box)
            except IntegrityError:
                continue
        raise EntryRefused("versions")

    @staticmethod
    def _source_id_and_key(s: Session, identity: SourceIdentity) -> tuple[int, bytes]:
        source = find_source(s, identity.lookup_id)
        if source is None:
            raise UnknownSource
        return source.id, source.public_key

    def _insert(self, identity: SourceIdentity, ref: str | None, box: bytes) -> tuple[str, int]:
        with self.db.session() as s:
            source_id, _ = self._source_id_and_key(s, identity)
            # Writing the source's row first serializes this source's log writers (a write
            # lock in SQLite, a row lock in PostgreSQL), so the version read next is theirs.
            s.execute(
                update(Source)
                .where(Source.id == source_id)
                .values(item_counter=Source.item_counter)
            )
            if ref is None:
                if self._count(s, source_id) >= MAX_ENTRIES:
                    raise EntryRefused("entries")
                ref, version = secrets.token_hex(ENTRY_REF_BYTES), 1
            else:
                latest = s.scalar(
                    select(func.max(LogEntry.version)).where(
                        LogEntry.source_id == source_id, LogEntry.entry_ref == ref
                    )
                )
                if latest is None:
                    raise NoSuchEntry
                if latest >= MAX_VERSIONS:
                    raise EntryRefused("versions")
                version = latest + 1
            s.add(
                LogEntry(
                    source_id=source_id,
                    entry_ref=ref,
                    version=version,
                    box=box,
                    created_on=self.clock().date(),
                )
            )
        return ref, version

    @staticmethod
    def _count(s: Session, source_id: int) -> int:
        query = select(func.count(func.distinct(LogEntry.entry_ref))).where(
            LogEntry.source_id == source_id
        )
        return int(s.scalar(query) or 0)

    def add(self, identity: SourceIdentity, entry: EntryFields, labels: EntryLabels) -> str:
        """Seal a new entry to the worker's key; return its ref."""
        ref, _ = self._write(identity, None, entry, labels)
        return ref

    def revise(
        self, identity: SourceIdentity, ref: str, entry: EntryFields, labels: EntryLabels
    ) -> int:
        """Add a new version of an entry (the earlier ones stay, with their receipts)."""
        _, version = self._write(identity, ref, entry, labels)
        return version

    def count(self, identity: SourceIdentity) -> int:
        """Return how many entries the worker has (without opening any)."""
        with self.db.session() as s:
            return self._count(s, self._source_id_and_key(s, identity)[0])

    def entries(self, identity: SourceIdentity) -> list[EntrySummary]:
        """Return the worker's entries, latest version each, most recently written first.

        Only the latest version of each entry is read and opened.
        """
        with self.db.session() as s:
            source_id, _ = self._source_id_and_key(s, identity)
            latest = (
                select(
                    LogEntry.entry_ref,
                    func.max(LogEntry.version).label("version"),
                    func.count(LogEntry.id).label("versions"),
                )
                .where(LogEntry.source_id == source_id)
                .group_by(LogEntry.entry_ref)
                .subquery()
            )
            rows = s.execute(
                select(LogEntry, latest.c.versions)
                .join(
                    latest,
                    (LogEntry.entry_ref == latest.c.entry_ref)
                    & (LogEntry.version == latest.c.version),
                )
                .where(LogEntry.source_id == source_id)
                .order_by(LogEntry.id.desc())
            ).all()
        keys = SourceKeyPair(identity.key_seed)
        summaries = []
        for row, versions in rows:
            try:
                summaries.append(EntrySummary(row.entry_ref, self._open(keys, row), versions))
            except NoSuchEntry:
                continue  # sealed to another key: not this worker's to read
        return summaries

    def _select(
        self, identity: SourceIdentity, ref: str, version: int | None = None
    ) -> list[LogEntry]:
        with self.db.session() as s:
            source_id, _ = self._source_id_and_key(s, identity)
            query = select(LogEntry).where(
                LogEntry.source_id == source_id, LogEntry.entry_ref == ref
            )
            if version is not None:
                query = query.where(LogEntry.version == version)
            rows = list(s.scalars(query.order_by(LogEntry.version)))
        if not rows:
            raise NoSuchEntry
        return rows

    def history(self, identity: SourceIdentity, ref: str) -> list[EntryVersion]:
        """Return every version of one entry (at most MAX_VERSIONS), oldest first."""
        keys = SourceKeyPair(identity.key_seed)
        return [self._open(keys, row) for row in self._select(identity, ref)]

    def version(self, identity: SourceIdentity, ref: str, number: int) -> EntryVersion:
        """Return one version of an entry, opening only that one."""
        (row,) = self._select(identity, ref, number)
        return self._open(SourceKeyPair(identity.key_seed), row)

    def latest(self, identity: SourceIdentity, ref: str) -> EntryVersion:
        with self.db.session() as s:
            source_id, _ = self._source_id_and_key(s, identity)
            number = s.scalar(
                select(func.max(LogEntry.version)).where(
                    LogEntry.source_id == source_id, LogEntry.entry_ref == ref
                )
            )
        if number is None:
            raise NoSuchEntry
        return self.version(identity, ref, number)

    def document(self, identity: SourceIdentity, ref: str, number: int, heading: str) -> bytes:
        """Return one version with its receipt, as the file the worker may show others."""
        return self.document_of(self.version(identity, ref, number), heading)

    @staticmethod
    def document_of(version: EntryVersion, heading: str) -> bytes:
        try:
            return entry_document(version.text, version.receipt, heading)
        except (ReceiptInvalid, ValueError) as exc:  # damaged, or over the document size limit
            raise NoSuchEntry from exc

    def share(self, identity: SourceIdentity, refs: list[str], heading: str) -> int:
        """Send the latest version of each chosen entry, with its receipt, to the ombuds.

        Each becomes a submission encrypted to the ombuds key, all or none; the worker's
        own copies stay as they are. Return how many were shared.
        """
        items = [
            TextItem("log", self.document_of(self.latest(identity, ref), heading), ENTRY_FILE_NAME)
            for ref in dict.fromkeys(refs)
        ]
        if not items:
            raise NoSuchEntry
        return self.submit_texts(identity, items)

    def delete(self, identity: SourceIdentity, ref: str) -> None:
        """Delete an entry with all its versions (SQLite overwrites the freed rows)."""
        with self.db.session() as s:
            source = find_source(s, identity.lookup_id)
            if source is None:
                raise UnknownSource
            result = s.execute(
                delete(LogEntry).where(LogEntry.source_id == source.id, LogEntry.entry_ref == ref)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise NoSuchEntry
