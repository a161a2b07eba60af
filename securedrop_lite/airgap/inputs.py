"""What `decrypt` reads: one .gpg file, a zip from the ombuds interface, or a folder.

Nothing here writes to disk. A zip is never extracted: each entry is read as a
stream and handed to gpg, so its path inside the zip is never used as a path
on this machine. Entries that could only come from tampering (absolute paths,
`..`, symbolic links) are refused and reported, not repaired.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from securedrop_lite.airgap.names import printable

# The server names every item `<number>-<designation>-<kind>.gpg`; the designation
# (two lowercase words joined by "-") becomes the source's folder under --out.
ITEM_NAME = re.compile(r"^(?P<number>[0-9]{1,9})-(?P<who>[a-z0-9]+(?:-[a-z0-9]+){0,7})-"
                       r"(?P<kind>msg|doc|reply)\.gpg$")  # fmt: skip
UNSORTED = "unsorted"


class InputUnreadable(Exception):
    """An input that cannot be read: missing, not a regular file, or a broken zip."""


# What reading an entry can raise: a damaged zip, a bad deflate stream, a method we lack.
UNREADABLE = (
    OSError, InputUnreadable, zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError,
)  # fmt: skip
TEXT_KINDS = {"msg", "reply"}


@dataclass(frozen=True)
class Sealed:
    """One encrypted item to decrypt, and where its plaintext belongs."""

    label: str  # how the report names it, safe to print
    folder: str  # the source's folder under --out
    stem: str  # the item's own name without .gpg, for messages and nameless files
    kind: str  # msg, doc or reply
    open: Callable[[], IO[bytes]]


@dataclass(frozen=True)
class Refused:
    """An entry that is not decrypted, with the reason the report gives."""

    label: str
    reason: str


Entry = Sealed | Refused


def sealed_from_name(label: str, base_name: str, opener: Callable[[], IO[bytes]]) -> Sealed:
    """Describe an item by its file name; names not made by the server go to 'unsorted'."""
    match = ITEM_NAME.match(base_name)
    if match is None:
        stem = base_name.removesuffix(".gpg")
        return Sealed(label, UNSORTED, stem, "doc", opener)
    return Sealed(label, match["who"], base_name.removesuffix(".gpg"), match["kind"], opener)


def open_regular_file(path: Path) -> int:
    """Open path for reading, refusing a symlink, a folder or any special file."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        # The checks below are on the opened descriptor, so the path cannot be
        # swapped for a symlink or a FIFO between a check and the read.
        descriptor = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputUnreadable("refused: it is a symbolic link; give the file itself") from None
        raise InputUnreadable(f"refused: cannot open it ({exc.strerror})") from None
    mode = os.fstat(descriptor).st_mode
    if stat.S_ISREG(mode):
        return descriptor
    os.close(descriptor)
    if stat.S_ISDIR(mode):
        raise InputUnreadable("refused: it is a folder; give the files in it")
    raise InputUnreadable("refused: it is not a regular file")


def _opener(path: Path) -> Callable[[], IO[bytes]]:
    return lambda: os.fdopen(open_regular_file(path), "rb")


def _from_file(path: Path) -> list[Entry]:
    label = printable(path.name)
    if not path.name.endswith(".gpg"):
        return [Refused(label, "not a .gpg file")]
    return [sealed_from_name(label, path.name, _opener(path))]


def _from_folder(folder: Path) -> list[Entry]:
    """Every .gpg file under folder; symbolic links are reported and never followed."""
    entries: list[Entry] = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        base = Path(root)
        for name in sorted(dirs):
            if (base / name).is_symlink():
                entries.append(Refused(printable(name), "a symbolic link: not followed"))
        for name in sorted(files):
            path = base / name
            label = printable(str(path.relative_to(folder)))
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                entries.append(Refused(label, "a symbolic link: not followed"))
            elif not stat.S_ISREG(mode):
                entries.append(Refused(label, "not a regular file"))
            elif name.endswith(".gpg"):
                opener = _opener(path)
                entries.append(sealed_from_name(label, name, opener))
    return entries


def _unsafe_zip_path(name: str) -> bool:
    posix = PurePosixPath(name.replace("\\", "/"))
    return posix.is_absolute() or ".." in posix.parts or re.match(r"^[A-Za-z]:", name) is not None


def _zip_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Entry | None:
    label = printable(info.filename)
    if stat.S_ISLNK(info.external_attr >> 16):
        return Refused(label, "a symbolic link inside the zip: not followed")
    if _unsafe_zip_path(info.filename):
        return Refused(label, "an absolute path or '..' inside the zip: refused")
    if info.is_dir():
        return None
    if info.flag_bits & 0x1:
        return Refused(label, "a password-protected zip entry")
    base_name = PurePosixPath(info.filename.replace("\\", "/")).name
    if not base_name.endswith(".gpg"):
        return Refused(label, "not a .gpg file")
    return sealed_from_name(label, base_name, lambda: archive.open(info))


@contextlib.contextmanager
def read_input(path: Path) -> Iterator[list[Entry]]:
    """Yield the entries of path (file, zip or folder), keeping a zip open while they are read."""
    if path.is_dir():
        yield _from_folder(path)
        return
    if path.suffix.lower() == ".zip":
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise InputUnreadable(f"{printable(path.name)} is not a readable zip: {exc}") from exc
        with archive:
            yield [e for e in (_zip_entry(archive, i) for i in archive.infolist()) if e]
        return
    if not path.is_file():
        raise InputUnreadable(f"{printable(str(path))} is not a file, a zip or a folder")
    yield _from_file(path)
