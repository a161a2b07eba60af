"""The encrypted spool: what reaches the disk is ciphertext, and tampering is detected."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from securedrop_lite.spool import CHUNK_BYTES, EncryptedSpool, SpoolError

CANARY = b"CANARY-spool-7f3e9a-" * 64


def _disk_bytes(spool: EncryptedSpool) -> bytes:
    spool._file.flush()
    return os.pread(spool._file.fileno(), 1 << 26, 0)


@pytest.mark.parametrize(
    "size", [0, 1, CHUNK_BYTES - 1, CHUNK_BYTES, CHUNK_BYTES + 1, 3 * CHUNK_BYTES + 17]
)
def test_spool_round_trip(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    with EncryptedSpool(tmp_path) as spool:
        for start in range(0, size, 10_000):
            spool.write(data[start : start + 10_000])
        spool.seek(0)
        assert spool.read() == data
        spool.seek(0)
        assert spool.read() == data  # rewinding twice works


def test_upload_plaintext_never_reaches_disk_through_the_spool(tmp_path: Path) -> None:
    with EncryptedSpool(tmp_path) as spool:
        for _ in range(200):
            spool.write(CANARY)
        spool.seek(0)
        on_disk = _disk_bytes(spool)
        assert len(on_disk) >= 200 * len(CANARY)
        assert b"CANARY-spool" not in on_disk
    assert list(tmp_path.iterdir()) == []  # the temporary file never had a name


def test_tampered_chunk_is_detected(tmp_path: Path) -> None:
    with EncryptedSpool(tmp_path) as spool:
        spool.write(os.urandom(3 * CHUNK_BYTES))
        spool.seek(0)
        fd = spool._file.fileno()
        byte = os.pread(fd, 1, 100)
        os.pwrite(fd, bytes([byte[0] ^ 1]), 100)
        with pytest.raises(SpoolError):
            spool.read()


def test_truncated_spool_is_detected(tmp_path: Path) -> None:
    with EncryptedSpool(tmp_path) as spool:
        spool.write(os.urandom(3 * CHUNK_BYTES))
        spool.seek(0)
        os.ftruncate(spool._file.fileno(), CHUNK_BYTES + 16)  # only the first chunk is left
        with pytest.raises(SpoolError):
            spool.read()


def test_spool_refuses_writes_after_it_is_sealed_and_partial_seeks(tmp_path: Path) -> None:
    with EncryptedSpool(tmp_path) as spool:
        spool.write(b"abc")
        spool.seek(0)
        with pytest.raises(SpoolError):
            spool.write(b"more")
        with pytest.raises(SpoolError):
            spool.seek(1)


def test_each_spool_has_its_own_key(tmp_path: Path) -> None:
    with EncryptedSpool(tmp_path) as one, EncryptedSpool(tmp_path) as two:
        one.write(b"same" * 1000)
        two.write(b"same" * 1000)
        one.seek(0)
        two.seek(0)
        assert _disk_bytes(one) != _disk_bytes(two)
