"""Naming staged ciphertexts in a source's folder, all or nothing: shared by submissions and
replies."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from securedrop_lite.codename import designation_slug
from securedrop_lite.models import Source
from securedrop_lite.store import StagedFile, Store, StoreError

# The file-name suffix of each kind: shared log entries and conversation requests are text
# like messages, so the store, the zip and the air-gapped tool treat them as messages.
FILE_SUFFIX = {"msg": "msg", "doc": "doc", "reply": "reply", "log": "msg", "talk": "msg"}


class StorageFailed(Exception):
    """Encryption or storage failed; nothing of the submission or reply was kept."""


@dataclass(frozen=True)
class StoredItem:
    number: int
    kind: str
    file_name: str
    size: int


class ItemCommit:
    """Staged files on their way into the store, and the ones already named there."""

    def __init__(self, store: Store, staged: list[tuple[str, StagedFile]]) -> None:
        self.store = store
        self.staged = staged
        self.committed: list[tuple[str, str]] = []

    def name_all(self, s: Session, source: Source) -> list[StoredItem] | None:
        """Number and name every staged file; None if the source was tombstoned meanwhile.

        One UPDATE reserves the numbers: concurrent writers serialize on it, and it skips
        a source tombstoned since it was looked up (its purge may be running).
        """
        count = len(self.staged)
        last = s.execute(
            update(Source)
            .where(Source.id == source.id, Source.deleted.is_(False))
            .values(item_counter=Source.item_counter + count)
            .returning(Source.item_counter)
        ).scalar_one_or_none()
        if last is None:
            return None
        slug = designation_slug(source.designation)
        stored = []
        numbers = range(last - count + 1, last + 1)
        for number, (kind, staged) in zip(numbers, self.staged, strict=True):
            file_name = f"{number}-{slug}-{FILE_SUFFIX[kind]}.gpg"
            size = self.store.commit(staged, source.store_dir, file_name)
            self.committed.append((source.store_dir, file_name))
            stored.append(StoredItem(number, kind, file_name, size))
        return stored


@contextmanager
def all_or_nothing(store: Store, staged: list[tuple[str, StagedFile]]) -> Iterator[ItemCommit]:
    """Yield an ItemCommit; if the block fails, drop the staged files and the named ones.

    Wrap the database session in it, so that the rows roll back before the files go.
    """
    commit = ItemCommit(store, staged)
    try:
        yield commit
    except BaseException as exc:
        for _, item in staged:
            item.discard()
        for store_dir, file_name in commit.committed:
            store.delete_item(store_dir, file_name)
        # A full disk shows as any of these: the store's, the OS's, or the database's.
        if isinstance(exc, (StoreError, OSError, OperationalError)):
            raise StorageFailed(str(exc)) from exc
        raise
