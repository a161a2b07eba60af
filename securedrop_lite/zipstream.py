"""Stream a ZIP of already-encrypted files, never building the archive on disk or in memory.

Members are stored (method 0): .gpg ciphertext does not compress, and storing keeps the
archive's length computable in advance for Content-Length. Sizes are known before reading,
so each local header carries them; the CRC-32 is only known after, so it follows the data
in a data descriptor (general-purpose flag bit 3). Format: PKWARE APPNOTE.TXT 6.3.
"""

from __future__ import annotations

import datetime
import struct
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

# ISA-L's CRC-32 (carry-less multiply) runs about four times as fast as zlib's here, and
# the CRC is most of the CPU a zip download costs. Same polynomial, same results.
from isal.isal_zlib import crc32

# A 32-bit field holding 0xFFFFFFFF means "read the Zip64 field instead", so that value
# itself already needs Zip64 (APPNOTE 4.4.1.4).
_LIMIT_32 = 0xFFFF_FFFF
_LIMIT_16 = 0xFFFF
_FLAGS = 1 << 3 | 1 << 11  # CRC and sizes repeated in a data descriptor; names are UTF-8
_VERSION = 20
_VERSION_ZIP64 = 45
_MADE_BY_UNIX = 3 << 8
# A regular file readable by its owner only: the mode a confidential file should land with.
_EXTERNAL_ATTR = 0o100600 << 16


class ZipSizeMismatch(Exception):
    """A file held a different number of bytes than announced, so the archive is corrupt."""


@dataclass(frozen=True)
class ZipEntry:
    """One file of the archive: its name inside it, its size, its day, and how to open it."""

    arcname: str
    size: int
    day: datetime.date
    open: Callable[[], BinaryIO]

    def __post_init__(self) -> None:
        _check_arcname(self.arcname)
        if self.size < 0:
            raise ValueError(f"negative size for {self.arcname!r}")
        if not 1980 <= self.day.year <= 2107:
            raise ValueError("a ZIP date must fall between 1980 and 2107")


def _check_arcname(arcname: str) -> None:
    """Refuse a name an unzip tool could resolve outside its target directory."""
    parts = arcname.split("/")
    # An empty part covers absolute paths and trailing slashes; ":" covers drive letters.
    unsafe = any(part in ("", ".", "..") for part in parts) or "\\" in arcname or ":" in arcname
    if unsafe or not arcname.isprintable():
        raise ValueError(f"unsafe archive name: {arcname!r}")
    if len(arcname.encode("utf-8")) > _LIMIT_16:
        raise ValueError("archive name too long")


@dataclass(frozen=True)
class _Member:
    """An entry placed in the archive: its encoded name, its offset, and whether it is Zip64."""

    entry: ZipEntry
    name: bytes
    offset: int
    zip64: bool

    @property
    def version(self) -> int:
        return _VERSION_ZIP64 if self.zip64 else _VERSION

    def common_fields(self, crc: int, extra: bytes) -> tuple[int, ...]:
        """Return the ten fields the local header and central record share, in order."""
        day = self.entry.day
        dos_date = (day.year - 1980) << 9 | day.month << 5 | day.day
        # Method 0 (stored); time 00:00:00, since the project never records a time of day.
        size = _LIMIT_32 if self.zip64 else self.entry.size
        return (self.version, _FLAGS, 0, 0, dos_date, crc, size, size, len(self.name), len(extra))


def _local_header(member: _Member) -> bytes:
    """Build the header before a member's data: real sizes, and a zero CRC that comes later."""
    size = member.entry.size
    extra = struct.pack("<HHQQ", 0x0001, 16, size, size) if member.zip64 else b""
    fixed = struct.pack("<I5H3I2H", 0x04034B50, *member.common_fields(0, extra))
    return fixed + member.name + extra


def _descriptor(member: _Member, crc: int) -> bytes:
    """Build the data descriptor that follows a member's data."""
    size = member.entry.size
    # Sizes are 8 bytes exactly when the local header has a Zip64 extra (APPNOTE 4.3.9.1).
    layout = "<IIQQ" if member.zip64 else "<IIII"
    return struct.pack(layout, 0x08074B50, crc, size, size)


def _central_record(member: _Member, crc: int) -> bytes:
    """Build a member's central directory record."""
    size, offset = member.entry.size, member.offset
    extra = struct.pack("<HHQQQ", 0x0001, 24, size, size, offset) if member.zip64 else b""
    offset = _LIMIT_32 if member.zip64 else offset
    # Comment length, disk number and internal attributes are 0.
    tail = (0, 0, 0, _EXTERNAL_ATTR, offset)
    fields = (_MADE_BY_UNIX | member.version, *member.common_fields(crc, extra), *tail)
    fixed = struct.pack("<IH5H3I5H2I", 0x02014B50, *fields)
    return fixed + member.name + extra


def _end_records(count: int, cd_offset: int, cd_size: int, force_zip64: bool) -> bytes:
    """Build the end of central directory record, preceded by the Zip64 ones if needed."""
    if not (force_zip64 or count >= _LIMIT_16 or cd_offset >= _LIMIT_32 or cd_size >= _LIMIT_32):
        return struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, cd_size, cd_offset, 0)
    made_by = _MADE_BY_UNIX | _VERSION_ZIP64
    totals = (count, count, cd_size, cd_offset)
    zip64_end = struct.pack("<IQ2H2I4Q", 0x06064B50, 44, made_by, _VERSION_ZIP64, 0, 0, *totals)
    locator = struct.pack("<IIQI", 0x07064B50, 0, cd_offset + cd_size, 1)
    # Every classic field points to Zip64, as Go's archive/zip does, so no reader can take a
    # clipped value for the real one.
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, _LIMIT_16, _LIMIT_16, _LIMIT_32, _LIMIT_32, 0)
    return zip64_end + locator + end


def _layout(entries: Iterable[ZipEntry], force_zip64: bool) -> tuple[list[_Member], int]:
    """Place each entry in the archive; return the members and the central directory offset."""
    members: list[_Member] = []
    names: set[str] = set()
    offset = 0
    for entry in entries:
        if entry.arcname in names:
            raise ValueError(f"duplicate archive name: {entry.arcname!r}")
        names.add(entry.arcname)
        member = _Member(
            entry=entry,
            name=entry.arcname.encode("utf-8"),
            offset=offset,
            # All of a member's fields go Zip64 together: Info-ZIP unzip 6.0 misreads an
            # offset-only Zip64 extra after a member whose sizes were Zip64 (getZip64Data
            # tests the previous local header's size).
            zip64=force_zip64 or entry.size >= _LIMIT_32 or offset >= _LIMIT_32,
        )
        members.append(member)
        offset += len(_local_header(member)) + entry.size + len(_descriptor(member, 0))
    return members, offset


def zip_size(entries: Sequence[ZipEntry], force_zip64: bool = False) -> int:
    """Return the exact byte length stream_zip will produce, for Content-Length."""
    members, cd_offset = _layout(entries, force_zip64)
    cd_size = sum(len(_central_record(member, 0)) for member in members)
    return cd_offset + cd_size + len(_end_records(len(members), cd_offset, cd_size, force_zip64))


def stream_zip(
    entries: Iterable[ZipEntry], chunk_size: int = 1024 * 1024, force_zip64: bool = False
) -> Iterator[bytes]:
    """Yield a ZIP archive of entries, stored without compression, one chunk at a time."""
    # Checked here rather than in the generator, so a bad call fails before a response starts.
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    members, cd_offset = _layout(entries, force_zip64)
    return _stream(members, cd_offset, chunk_size, force_zip64)


def _stream(
    members: list[_Member], cd_offset: int, chunk_size: int, force_zip64: bool
) -> Iterator[bytes]:
    """Yield each member's header, data and descriptor, then the central directory."""
    central: list[bytes] = []
    for member in members:
        yield _local_header(member)
        crc = yield from _file_chunks(member.entry, chunk_size)
        yield _descriptor(member, crc)
        central.append(_central_record(member, crc))
    directory = b"".join(central)
    yield directory + _end_records(len(members), cd_offset, len(directory), force_zip64)


def _file_chunks(entry: ZipEntry, chunk_size: int) -> Generator[bytes, None, int]:
    """Yield the entry's bytes, check their count, and return their CRC-32."""
    crc = 0
    copied = 0
    with entry.open() as file:
        # One copy per chunk: a large read of a buffered file goes straight into the new
        # bytes object, which WSGI can send as it is.
        while chunk := file.read(chunk_size):
            copied += len(chunk)
            if copied > entry.size:
                raise ZipSizeMismatch(f"{entry.arcname!r} holds more than {entry.size} bytes")
            crc = crc32(chunk, crc)
            yield chunk
    if copied != entry.size:
        raise ZipSizeMismatch(f"{entry.arcname!r} holds {copied} bytes, not {entry.size}")
    return crc
