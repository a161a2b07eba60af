"""An encrypted temporary file for request bodies, so no upload is ever spooled in plaintext (P1).

Werkzeug spools large file parts to disk by default. This replaces that spool: data is
sealed in chunks with ChaCha20-Poly1305 under a random key that lives only in this
object, in an unnamed temporary file. Each chunk's nonce is its index, and the last
chunk is marked as such in its associated data, so chunks cannot be reordered,
dropped or truncated without the read failing (the STREAM construction).
"""

from __future__ import annotations

import io
import struct
import tempfile
from pathlib import Path
from typing import IO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

CHUNK_BYTES = 64 * 1024
_TAG_BYTES = 16


class SpoolError(Exception):
    """The spooled data was tampered with, or the spool was used out of order."""


def _aad(index: int, last: bool) -> bytes:
    return struct.pack(">QB", index, last)


def _nonce(index: int) -> bytes:
    return struct.pack(">4xQ", index)


class EncryptedSpool(io.RawIOBase):
    """Write once, then read back: a file-like object whose disk copy is ciphertext."""

    def __init__(self, directory: Path | None = None) -> None:
        super().__init__()
        self._aead = ChaCha20Poly1305(ChaCha20Poly1305.generate_key())
        self._file: IO[bytes] = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115
        self._pending = bytearray()
        self._index = 0
        self._reading = False
        self._chunks = 0
        self._read_index = 0
        self._plain = b""
        self.size = 0

    # -- writing -------------------------------------------------------------------
    def writable(self) -> bool:
        return not self._reading

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        if self._reading:
            raise SpoolError("the spool is sealed")
        self._pending += data
        self.size += len(data)
        while len(self._pending) > CHUNK_BYTES:
            self._seal(bytes(self._pending[:CHUNK_BYTES]), last=False)
            del self._pending[:CHUNK_BYTES]
        return len(data)

    def _seal(self, chunk: bytes, last: bool) -> None:
        self._file.write(self._aead.encrypt(_nonce(self._index), chunk, _aad(self._index, last)))
        self._index += 1

    def _finish_writing(self) -> None:
        if not self._reading:
            self._seal(bytes(self._pending), last=True)
            self._pending.clear()
            self._chunks = self._index
            self._reading = True
        self._file.seek(0)
        self._read_index = 0
        self._plain = b""

    # -- reading -------------------------------------------------------------------
    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Rewind to the start: the only seek a form parser or a reader needs."""
        if (offset, whence) != (0, io.SEEK_SET):
            raise SpoolError("an encrypted spool can only be rewound to the start")
        self._finish_writing()
        return 0

    def tell(self) -> int:
        return self.size if not self._reading else 0

    def _next_chunk(self) -> bytes:
        if self._read_index >= self._chunks:
            return b""
        last = self._read_index == self._chunks - 1
        expected = CHUNK_BYTES + _TAG_BYTES
        sealed = self._file.read(expected)
        try:
            chunk = self._aead.decrypt(
                _nonce(self._read_index), sealed, _aad(self._read_index, last)
            )
        except InvalidTag as exc:
            raise SpoolError("spooled data failed authentication") from exc
        self._read_index += 1
        return chunk

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if not self._reading:
            self._finish_writing()
        while not self._plain:
            self._plain = self._next_chunk()
            if not self._plain:
                return 0
        n = min(len(buffer), len(self._plain))
        buffer[:n] = self._plain[:n]
        self._plain = self._plain[n:]
        return n

    def close(self) -> None:
        if not self.closed:
            self._file.close()
            self._pending.clear()
        super().close()
