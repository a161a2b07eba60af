"""Submission verbs: encrypt a file while it arrives, encrypt a message, store both."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from securedrop_lite.crypto import CryptoError, GpgStream, SubmissionKey
from securedrop_lite.db import Database
from securedrop_lite.models import Submission
from securedrop_lite.services.items import StorageFailed, all_or_nothing
from securedrop_lite.services.sources import SourceIdentity, UnknownSource, find_source
from securedrop_lite.store import StagedFile, Store

MESSAGE_FILE_NAME = "message.txt"
WRITEBACK_EVERY = 16 * 1024 * 1024


class SubmissionRefused(Exception):
    """The submission breaks a rule the source can fix; the message says which."""


class EmptySubmission(SubmissionRefused):
    """Neither a message nor a file."""


class MessageTooLong(SubmissionRefused):
    """The message is over the configured length."""


class UploadsDisabled(SubmissionRefused):
    """The instance accepts messages only."""


class UploadTooLarge(SubmissionRefused):
    """The file is over the configured size."""


class Upload:
    """A file part encrypted to the ombuds key as it arrives; its plaintext never touches disk.

    Werkzeug's form parser writes the part into this object and rewinds it at the end
    of the part; the ciphertext goes to an unnamed staging file until `submit` names it.
    """

    def __init__(self, staged: StagedFile, stream: GpgStream, max_bytes: int) -> None:
        self._staged = staged
        self._stream = stream
        self._finished = False
        self.max_bytes = max_bytes
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > self.max_bytes:
            self.close()
            raise UploadTooLarge
        try:
            written = self._stream.write(data)
        except (CryptoError, OSError) as exc:  # gpg died, most often of a full disk
            self.close()
            raise StorageFailed(str(exc)) from exc
        if self.size // WRITEBACK_EVERY != (self.size - len(data)) // WRITEBACK_EVERY:
            self._staged.start_writeback()
        return written

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return 0  # the parser rewinds the part when it ends; nothing reads it back

    def finish(self) -> StagedFile:
        self._stream.finish()
        self._finished = True
        return self._staged

    def close(self) -> None:
        """Drop the upload unless submit has taken it: gpg stops, the staging file goes."""
        if not self._finished:
            self._stream.abort()
            self._staged.discard()
            self._finished = True


@dataclass(frozen=True)
class TextItem:
    """A text the server writes for the source (a shared log entry, a conversation request)."""

    kind: str
    plaintext: bytes
    file_name: str  # inside the ciphertext only


@dataclass(frozen=True)
class Limits:
    max_message_chars: int
    max_upload_bytes: int
    allow_uploads: bool


class SubmissionService:
    """Checks a submission, encrypts it to the ombuds key, and stores it."""

    def __init__(
        self,
        db: Database,
        store: Store,
        key: SubmissionKey,
        limits: Callable[[], Limits],
        clock: Callable[[], datetime],
    ) -> None:
        self.db = db
        self.store = store
        self.key = key
        self.limits = limits
        self.clock = clock

    def begin_upload(self, file_name: str) -> Upload:
        """Start encrypting a file part whose original name goes only inside the ciphertext."""
        staged = self.store.stage()
        try:
            return Upload(
                staged, self.key.stream(staged.file, file_name), self.limits().max_upload_bytes
            )
        except CryptoError as exc:
            staged.discard()
            raise StorageFailed(str(exc)) from exc

    def _check(self, message: str, upload: Upload | None, file_refused: bool) -> None:
        has_file = upload is not None and upload.size > 0
        limits = self.limits()
        if not message.strip() and not has_file:
            raise EmptySubmission
        if len(message) > limits.max_message_chars:
            raise MessageTooLong
        if not limits.allow_uploads and (upload is not None or file_refused):
            raise UploadsDisabled

    def _encrypt_message(self, message: str) -> StagedFile:
        return self._encrypt_text(message.encode("utf-8"), MESSAGE_FILE_NAME)

    def _encrypt_text(self, plaintext: bytes, file_name: str) -> StagedFile:
        staged = self.store.stage()
        try:
            self.key.encrypt(plaintext, staged.file, file_name)
        except CryptoError:
            staged.discard()
            raise
        return staged

    def submit_texts(self, identity: SourceIdentity, items: list[TextItem]) -> int:
        """Encrypt each text to the ombuds key and store them all, or none; return how many."""
        staged: list[tuple[str, StagedFile]] = []
        try:
            for item in items:
                staged.append((item.kind, self._encrypt_text(item.plaintext, item.file_name)))
        except CryptoError as exc:
            for _, done in staged:
                done.discard()
            raise StorageFailed(str(exc)) from exc
        return self._store(identity, staged)

    def submit(
        self,
        identity: SourceIdentity,
        message: str,
        upload: Upload | None,
        file_refused: bool = False,
    ) -> int:
        """Store a message, a file or both; return how many items were stored.

        file_refused: a non-empty file arrived that was not encrypted (uploads are off).
        """
        self._check(message, upload, file_refused)
        if upload is not None and upload.size == 0:
            upload.close()
            upload = None
        staged: list[tuple[str, StagedFile]] = []
        try:
            if message.strip():
                staged.append(("msg", self._encrypt_message(message)))
            if upload is not None:
                staged.append(("doc", upload.finish()))
        except CryptoError as exc:
            for _, item in staged:
                item.discard()
            raise StorageFailed(str(exc)) from exc
        return self._store(identity, staged)

    def _store(self, identity: SourceIdentity, staged: list[tuple[str, StagedFile]]) -> int:
        with all_or_nothing(self.store, staged) as commit, self.db.session() as s:
            source = find_source(s, identity.lookup_id)
            stored = None if source is None else commit.name_all(s, source)
            if source is None or stored is None:
                raise UnknownSource
            today = self.clock().date()
            for item in stored:
                s.add(
                    Submission(
                        source_id=source.id,
                        number=item.number,
                        kind=item.kind,
                        file_name=item.file_name,
                        size=item.size,
                        created_on=today,
                    )
                )
            source.last_activity_on = today
            if source.first_submission_on is None:
                source.first_submission_on = today
        return len(stored)
