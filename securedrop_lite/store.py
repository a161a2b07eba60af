"""The ciphertext store: one gateway for every path, unnamed staging files, day-granular mtimes."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, BinaryIO

from securedrop_lite.filetimes import set_times_to_day

SOURCE_DIR_PATTERN = re.compile(r"[0-9a-f]{32}")
ITEM_FILE_PATTERN = re.compile(r"[1-9][0-9]{0,8}-[a-z]+(?:-[a-z]+)*-(?:msg|doc|reply)\.gpg")
STAGING_DIR = ".staging"
_OVERWRITE_CHUNK = 1024 * 1024


class StoreError(Exception):
    """A store path is invalid, or the file system refused an operation."""


@dataclass
class StagedFile:
    """A file being written in the staging area; it has no name until committed."""

    file: IO[bytes]
    temp_path: Path | None  # only when the file system lacks O_TMPFILE

    def start_writeback(self) -> None:
        """Ask the kernel to start writing what is in the file so far, without waiting.

        Called as a large upload arrives, so that the fsync at commit finds little left
        to write, and ciphertext does not pile up in the page cache.
        """
        with contextlib.suppress(OSError):
            os.posix_fadvise(self.file.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)

    def discard(self) -> None:
        self.file.close()
        if self.temp_path is not None:
            self.temp_path.unlink(missing_ok=True)


class Store:
    """Ciphertext files under root/<source dir>/<n>-<designation>-<kind>.gpg."""

    def __init__(self, root: Path, clock: Callable[[], datetime]) -> None:
        if not root.is_absolute():
            raise StoreError(f"the store path must be absolute, not {root}")
        self.root = root
        self.clock = clock
        for directory in (root, root / STAGING_DIR):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._discard_stale_staging()

    def path_for(self, source_dir: str, file_name: str | None = None) -> Path:
        """Return the checked path of a source directory or of one file in it."""
        if not SOURCE_DIR_PATTERN.fullmatch(source_dir):
            raise StoreError("invalid source directory name")
        if file_name is not None and not ITEM_FILE_PATTERN.fullmatch(file_name):
            raise StoreError("invalid item file name")
        directory = self.root / source_dir
        path = directory if file_name is None else directory / file_name
        if directory.is_symlink() or path.is_symlink():
            raise StoreError("the store does not follow symbolic links")
        expected_parent = self.root.resolve() / (source_dir if file_name else "")
        if path.resolve().parent != expected_parent.resolve():
            raise StoreError("path escapes the store")
        return path

    @staticmethod
    def new_source_dir() -> str:
        return secrets.token_hex(16)

    def stage(self) -> StagedFile:
        """Open an unnamed file for ciphertext; a crash before commit leaves nothing behind."""
        staging = self.root / STAGING_DIR
        try:
            fd = os.open(staging, os.O_TMPFILE | os.O_WRONLY, 0o600)
            return StagedFile(os.fdopen(fd, "wb"), None)
        except OSError:
            # File systems without O_TMPFILE: a named file, removed at the next start.
            path = staging / f"{os.getpid()}-{secrets.token_hex(8)}.part"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            return StagedFile(os.fdopen(fd, "wb"), path)

    def commit(self, staged: StagedFile, source_dir: str, file_name: str) -> int:
        """Give a staged file its name in the source's directory and return its size."""
        directory = self.path_for(source_dir)
        target = self.path_for(source_dir, file_name)
        directory.mkdir(mode=0o700, exist_ok=True)
        staged.file.flush()
        os.fsync(staged.file.fileno())
        size = os.fstat(staged.file.fileno()).st_size
        source = staged.temp_path or f"/proc/self/fd/{staged.file.fileno()}"
        # A directory fd makes os.link use linkat(AT_SYMLINK_FOLLOW), which gives the
        # unnamed O_TMPFILE file its name; plain link() would link /proc's magic link.
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            os.link(source, file_name, dst_dir_fd=dir_fd, follow_symlinks=True)
        except FileExistsError as exc:
            raise StoreError(f"{file_name} exists already") from exc
        finally:
            os.close(dir_fd)
            staged.discard()
        set_times_to_day(self.clock(), target, directory, self.root)
        return size

    def open_item(self, source_dir: str, file_name: str) -> BinaryIO:
        """Open a stored ciphertext for reading; symbolic links and non-files are refused."""
        path = self.path_for(source_dir, file_name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError as exc:
            raise StoreError(f"{file_name} is missing from the store") from exc
        except OSError as exc:
            raise StoreError(f"cannot open {file_name}") from exc
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise StoreError("not a regular file")
        # A shared lock for as long as it is read: a purge skips the file meanwhile instead
        # of overwriting it under a download.
        fcntl.flock(fd, fcntl.LOCK_SH)
        return os.fdopen(fd, "rb")

    def item_names(self, source_dir: str) -> list[str]:
        directory = self.path_for(source_dir)
        if not directory.is_dir():
            return []
        return sorted(p.name for p in directory.iterdir() if ITEM_FILE_PATTERN.fullmatch(p.name))

    def delete_item(self, source_dir: str, file_name: str) -> None:
        """Overwrite a file with random bytes, then unlink it."""
        path = self.path_for(source_dir, file_name)
        with contextlib.suppress(FileNotFoundError):
            self._overwrite(path)
            path.unlink()
            set_times_to_day(self.clock(), path.parent, self.root)

    def delete_source_dir(self, source_dir: str) -> None:
        directory = self.path_for(source_dir)
        for name in self.item_names(source_dir):
            self.delete_item(source_dir, name)
        with contextlib.suppress(FileNotFoundError):
            directory.rmdir()
        set_times_to_day(self.clock(), self.root)

    @staticmethod
    def _overwrite(path: Path) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise StoreError("not a regular file")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise StoreError("the file is being downloaded; try again later") from exc
            remaining = os.fstat(fd).st_size
            while remaining > 0:
                chunk = min(remaining, _OVERWRITE_CHUNK)
                os.write(fd, secrets.token_bytes(chunk))
                remaining -= chunk
            os.fsync(fd)
        finally:
            os.close(fd)

    def _discard_stale_staging(self) -> None:
        """Remove named staging files whose writing process is gone."""
        for leftover in (self.root / STAGING_DIR).glob("*.part"):
            pid = leftover.name.split("-", 1)[0]
            if not pid.isdigit() or not Path(f"/proc/{pid}").exists():
                leftover.unlink(missing_ok=True)
