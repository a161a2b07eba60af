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

from sqlalchemy import delete, func, select

from securedrop_lite.crypto import DecryptionError, SourceKeyPair, seal_to_source
from securedrop_lite.db import Database
from securedrop_lite.models import LogEntry
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
ENTRY_REF_BYTES = 16
ENTRY_FILE_NAME = "incident-log-entry.txt"


class EntryRefused(ValueError):
    """The entry is empty ("what") or too long ("length"); the interface words it."""


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
        entry.check(self.max_chars)
        with self.db.session() as s:
            source = find_source(s, identity.lookup_id)
            if source is None:
                raise UnknownSource
            public_key = source.public_key
        box = self._seal(public_key, entry, labels)
        with self.db.session() as s:
            source = find_source(s, identity.lookup_id)
            if source is None:
                raise UnknownSource
            if ref is None:
                ref, version = secrets.token_hex(ENTRY_REF_BYTES), 1
            else:
                latest = s.scalar(
                    select(func.max(LogEntry.version)).where(
                        LogEntry.source_id == source.id, LogEntry.entry_ref == ref
                    )
                )
                if latest is None:
                    raise NoSuchEntry
                version = latest + 1
            s.add(
                LogEntry(
                    source_id=source.id,
                    entry_ref=ref,
                    version=version,
                    box=box,
                    created_on=self.clock().date(),
                )
            )
        return ref, version

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

    def _rows(self, identity: SourceIdentity, ref: str | None = None) -> list[LogEntry]:
        with self.db.session() as s:
            source = find_source(s, identity.lookup_id)
            if source is None:
                raise UnknownSource
            query = select(LogEntry).where(LogEntry.source_id == source.id)
            if ref is not None:
                query = query.where(LogEntry.entry_ref == ref)
            return list(s.scalars(query.order_by(LogEntry.id)))

    def entries(self, identity: SourceIdentity) -> list[EntrySummary]:
        """Return the worker's entries, latest version each, most recently written first."""
        keys = SourceKeyPair(identity.key_seed)
        grouped: dict[str, list[LogEntry]] = {}
        for row in self._rows(identity):
            grouped.setdefault(row.entry_ref, []).append(row)
        summaries = []
        for ref, rows in grouped.items():
            try:
                latest = self._open(keys, rows[-1])
            except NoSuchEntry:
                continue  # sealed to another key: not this worker's to read
            summaries.append(EntrySummary(ref, latest, len(rows)))
        order = {ref: rows[-1].id for ref, rows in grouped.items()}
        return sorted(summaries, key=lambda summary: order[summary.ref], reverse=True)

    def history(self, identity: SourceIdentity, ref: str) -> list[EntryVersion]:
        """Return every version of one entry, oldest first."""
        rows = self._rows(identity, ref)
        if not rows:
            raise NoSuchEntry
        keys = SourceKeyPair(identity.key_seed)
        return [self._open(keys, row) for row in rows]

    def version(self, identity: SourceIdentity, ref: str, number: int) -> EntryVersion:
        for version in self.history(identity, ref):
            if version.version == number:
                return version
        raise NoSuchEntry

    def document(self, identity: SourceIdentity, ref: str, number: int, heading: str) -> bytes:
        """Return one version with its receipt, as the file the worker may show others."""
        version = self.version(identity, ref, number)
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
            TextItem("log", self.document(identity, ref, self._latest(identity, ref), heading),
                     ENTRY_FILE_NAME)
            for ref in dict.fromkeys(refs)
        ]  # fmt: skip
        if not items:
            raise NoSuchEntry
        return self.submit_texts(identity, items)

    def _latest(self, identity: SourceIdentity, ref: str) -> int:
        return self.history(identity, ref)[-1].version

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
