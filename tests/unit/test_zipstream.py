"""The streamed ZIP: standard readers get back every file byte for byte, and its length is exact."""

from __future__ import annotations

import datetime
import io
import os
import shutil
import stat
import struct
import subprocess
import zipfile
from collections.abc import Callable, Generator, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import pytest

from securedrop_lite.zipstream import ZipEntry, ZipSizeMismatch, stream_zip, zip_size

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

CHUNK = 4096
DAY = datetime.date(2024, 2, 29)
# Empty, one byte, exactly a chunk, and several chunks with a remainder.
SIZES = {"empty.gpg": 0, "one.gpg": 1, "chunk.gpg": CHUNK, "large.gpg": 5 * CHUNK + 123}
UNZIP = shutil.which("unzip")


def _entry_for(path: Path, arcname: str, day: datetime.date = DAY) -> ZipEntry:
    return ZipEntry(arcname, path.stat().st_size, day, lambda: path.open("rb"))


@pytest.fixture
def files(tmp_path: Path) -> dict[str, bytes]:
    """Write random files under tmp_path/src; return their contents by archive name."""
    contents = {f"brave-otter/{name}": os.urandom(size) for name, size in SIZES.items()}
    for arcname, data in contents.items():
        path = tmp_path / "src" / arcname
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return contents


@pytest.fixture
def entries(tmp_path: Path, files: dict[str, bytes]) -> list[ZipEntry]:
    return [_entry_for(tmp_path / "src" / arcname, arcname) for arcname in files]


def _stream_to(path: Path, entries: Iterable[ZipEntry], force_zip64: bool = False) -> Path:
    with path.open("wb") as out:
        for chunk in stream_zip(entries, chunk_size=CHUNK, force_zip64=force_zip64):
            out.write(chunk)
    return path


def _drain_into(sink: list[bytes], stream: Iterator[bytes]) -> None:
    """Append each chunk to sink, so the caller keeps what came before an error."""
    for chunk in stream:
        sink.append(chunk)


def _extra_field_ids(extra: bytes) -> list[int]:
    ids = []
    while extra:
        field_id, length = struct.unpack("<HH", extra[:4])
        ids.append(field_id)
        extra = extra[4 + length :]
    return ids


@pytest.mark.parametrize("force_zip64", [False, True])
def test_zip_holds_exactly_the_files_bytes(
    tmp_path: Path, entries: list[ZipEntry], files: dict[str, bytes], force_zip64: bool
) -> None:
    archive = _stream_to(tmp_path / "out.zip", entries, force_zip64)
    with zipfile.ZipFile(archive) as zf:
        assert zf.namelist() == list(files)
        for arcname, data in files.items():
            assert zf.read(arcname) == data


@pytest.mark.parametrize("force_zip64", [False, True])
def test_zip_crcs_and_sizes_check_out(
    tmp_path: Path, entries: list[ZipEntry], files: dict[str, bytes], force_zip64: bool
) -> None:
    archive = _stream_to(tmp_path / "out.zip", entries, force_zip64)
    with zipfile.ZipFile(archive) as zf:
        assert zf.testzip() is None
        for info in zf.infolist():
            assert info.compress_type == zipfile.ZIP_STORED
            assert info.file_size == info.compress_size == len(files[info.filename])


def test_zip_dates_are_the_day_at_midnight(tmp_path: Path, files: dict[str, bytes]) -> None:
    days = [datetime.date(1980, 1, 1), datetime.date(2024, 2, 29), datetime.date(2107, 12, 31)]
    arcnames = list(files)[: len(days)]
    dated = [
        _entry_for(tmp_path / "src" / a, a, day) for a, day in zip(arcnames, days, strict=True)
    ]
    with zipfile.ZipFile(_stream_to(tmp_path / "out.zip", dated)) as zf:
        assert [info.date_time for info in zf.infolist()] == [
            (day.year, day.month, day.day, 0, 0, 0) for day in days
        ]


@pytest.mark.parametrize("force_zip64", [False, True])
def test_zip_size_equals_the_streamed_length(
    tmp_path: Path, entries: list[ZipEntry], force_zip64: bool
) -> None:
    archive = _stream_to(tmp_path / "out.zip", entries, force_zip64)
    assert zip_size(entries, force_zip64=force_zip64) == archive.stat().st_size


def test_forced_zip64_archive_uses_zip64_records(tmp_path: Path, entries: list[ZipEntry]) -> None:
    archive = _stream_to(tmp_path / "out.zip", entries, force_zip64=True)
    with zipfile.ZipFile(archive) as zf:
        assert all(_extra_field_ids(info.extra) == [0x0001] for info in zf.infolist())
    end = archive.read_bytes()[-22 - 20 - 56 :]
    assert end.startswith(b"PK\x06\x06")  # the Zip64 end of central directory record
    assert end[56:60] == b"PK\x06\x07"  # and its locator


def test_members_reveal_nothing_beyond_name_size_and_day(
    tmp_path: Path, entries: list[ZipEntry]
) -> None:
    with zipfile.ZipFile(_stream_to(tmp_path / "out.zip", entries)) as zf:
        assert zf.comment == b""
        for info in zf.infolist():
            assert info.extra == b""  # no extended timestamp, no owner ids
            assert info.comment == b""
            assert info.external_attr >> 16 == stat.S_IFREG | 0o600
            assert info.flag_bits & 0x0800  # names are UTF-8


def test_non_ascii_names_round_trip_as_utf8(tmp_path: Path) -> None:
    path = tmp_path / "doc.gpg"
    path.write_bytes(os.urandom(10))
    arcname = "brave-otter/écrit-документ.gpg"
    with zipfile.ZipFile(_stream_to(tmp_path / "out.zip", [_entry_for(path, arcname)])) as zf:
        assert zf.namelist() == [arcname]
        assert zf.read(arcname) == path.read_bytes()


@pytest.mark.parametrize("force_zip64", [False, True])
def test_no_entries_make_a_valid_empty_zip(tmp_path: Path, force_zip64: bool) -> None:
    archive = _stream_to(tmp_path / "out.zip", [], force_zip64)
    assert archive.stat().st_size == zip_size([], force_zip64=force_zip64)
    with zipfile.ZipFile(archive) as zf:
        assert zf.namelist() == []
        assert zf.testzip() is None


@pytest.mark.parametrize("announced", [99, 101])
def test_file_of_another_size_than_announced_raises(tmp_path: Path, announced: int) -> None:
    path = tmp_path / "doc.gpg"
    path.write_bytes(os.urandom(100))
    entry = ZipEntry("doc.gpg", announced, DAY, lambda: path.open("rb"))
    with pytest.raises(ZipSizeMismatch):
        b"".join(stream_zip([entry], chunk_size=16))


def test_stream_never_yields_more_than_the_announced_bytes(tmp_path: Path) -> None:
    path = tmp_path / "doc.gpg"
    path.write_bytes(b"x" * 100)
    entry = ZipEntry("doc.gpg", 40, DAY, lambda: path.open("rb"))
    yielded: list[bytes] = []
    with pytest.raises(ZipSizeMismatch):
        _drain_into(yielded, stream_zip([entry], chunk_size=16))
    assert 0 < b"".join(yielded).count(b"x") <= 40


@pytest.mark.parametrize(
    "arcname",
    [
        "../doc.gpg",
        "brave-otter/../../doc.gpg",
        "brave-otter/..",
        "/etc/passwd",
        "brave-otter\\doc.gpg",
        "..\\doc.gpg",
        "C:/doc.gpg",
        "",
        "brave-otter//doc.gpg",
        "brave-otter/",
        "./doc.gpg",
        "doc\x00.gpg",
        "doc\n.gpg",
        "doc\udc80.gpg",
    ],
)
def test_unsafe_arcnames_are_refused(arcname: str) -> None:
    with pytest.raises(ValueError, match="archive name"):
        ZipEntry(arcname, 0, DAY, lambda: io.BytesIO())


def test_duplicate_arcnames_are_refused_before_streaming(entries: list[ZipEntry]) -> None:
    with pytest.raises(ValueError, match="duplicate"):
        stream_zip([entries[0], entries[0]])
    with pytest.raises(ValueError, match="duplicate"):
        zip_size([entries[0], entries[0]])


def test_dates_outside_the_zip_range_are_refused() -> None:
    with pytest.raises(ValueError, match="1980"):
        ZipEntry("doc.gpg", 0, datetime.date(1979, 12, 31), lambda: io.BytesIO())


def test_chunks_are_bytes_no_larger_than_chunk_size(entries: list[ZipEntry]) -> None:
    chunks = list(stream_zip(entries, chunk_size=CHUNK))
    assert all(type(chunk) is bytes for chunk in chunks)
    # Only the final central directory may exceed a chunk, and it is small here.
    assert max(len(chunk) for chunk in chunks[:-1]) <= CHUNK


def test_each_file_is_opened_only_when_its_turn_comes_and_closed_after() -> None:
    events: list[str] = []

    class Tracked(io.BytesIO):
        def close(self) -> None:
            events.append(f"close {self.name}")
            super().close()

    def opener(name: str, data: bytes) -> Callable[[], BinaryIO]:
        def open_file() -> BinaryIO:
            events.append(f"open {name}")
            tracked = Tracked(data)
            tracked.name = name
            return tracked

        return open_file

    entries = [ZipEntry(name, 3, DAY, opener(name, b"abc")) for name in ("a.gpg", "b.gpg")]
    stream = stream_zip(entries, chunk_size=2)
    assert events == []
    for chunk in stream:
        events.append(f"chunk {len(chunk)}")
    assert [e for e in events if not e.startswith("chunk")] == [
        "open a.gpg",
        "close a.gpg",
        "open b.gpg",
        "close b.gpg",
    ]
    a_data_chunks = events[events.index("open a.gpg") : events.index("close a.gpg")]
    assert a_data_chunks == ["open a.gpg", "chunk 2", "chunk 1"]


def test_closing_the_stream_early_closes_the_open_file(tmp_path: Path) -> None:
    path = tmp_path / "doc.gpg"
    path.write_bytes(os.urandom(10 * CHUNK))
    opened: list[BinaryIO] = []

    def open_file() -> BinaryIO:
        opened.append(path.open("rb"))
        return opened[-1]

    stream = stream_zip([ZipEntry("doc.gpg", 10 * CHUNK, DAY, open_file)], chunk_size=CHUNK)
    assert isinstance(stream, Generator)  # so a WSGI server can close it
    next(stream), next(stream)  # the local header, then the first chunk
    stream.close()  # as the server does when the client goes away
    assert opened[0].closed


@pytest.mark.parametrize("force_zip64", [False, True])
def test_unzip_tool_accepts_the_archive_when_installed(
    tmp_path: Path, entries: list[ZipEntry], files: dict[str, bytes], force_zip64: bool
) -> None:
    archive = _stream_to(tmp_path / "out.zip", entries, force_zip64)
    with zipfile.ZipFile(archive) as zf:  # always: Python's reader
        assert zf.testzip() is None
    if UNZIP is None:
        return  # no unzip on this machine: Python's reader is the whole check
    subprocess.run([UNZIP, "-tq", str(archive)], check=True, capture_output=True)
    out = tmp_path / "out"
    subprocess.run([UNZIP, "-q", str(archive), "-d", str(out)], check=True, capture_output=True)
    for arcname, data in files.items():
        assert (out / arcname).read_bytes() == data
        assert stat.S_IMODE((out / arcname).stat().st_mode) == 0o600


ZERO_BLOCK = bytes(1024 * 1024)  # stream_zip's default chunk size


class _Zeros(io.RawIOBase):
    """A file of `size` zero bytes that occupies no disk."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer)
        count = min(len(view), len(ZERO_BLOCK), self.left)
        view[:count] = ZERO_BLOCK[:count]
        self.left -= count
        return count


@pytest.mark.slow
def test_archive_past_4_gib_switches_to_zip64_and_reads_back(tmp_path: Path) -> None:
    big = 0xFFFF_FFFF  # the first size that no longer fits a 32-bit field
    before, after = os.urandom(10), os.urandom(1000)
    entries = [
        ZipEntry("before.gpg", len(before), DAY, lambda: io.BytesIO(before)),
        ZipEntry("big.gpg", big, DAY, lambda: io.BufferedReader(_Zeros(big))),
        ZipEntry("after.gpg", len(after), DAY, lambda: io.BytesIO(after)),
    ]
    archive = tmp_path / "big.zip"
    with archive.open("wb") as out:
        for chunk in stream_zip(entries):
            if chunk == ZERO_BLOCK:
                out.seek(len(chunk), os.SEEK_CUR)  # leave a hole: the sink costs no disk
            else:
                out.write(chunk)
        out.truncate()
    assert archive.stat().st_size == zip_size(entries)
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        assert [info.file_size for info in infos] == [10, big, 1000]
        assert infos[2].header_offset > 0xFFFF_FFFF
        assert [_extra_field_ids(info.extra) for info in infos] == [[], [0x0001], [0x0001]]
        assert zf.read("before.gpg") == before
        assert zf.read("after.gpg") == after
    if UNZIP is not None:
        listing = subprocess.run([UNZIP, "-l", str(archive)], check=True, capture_output=True)
        assert b"warning" not in listing.stdout + listing.stderr
