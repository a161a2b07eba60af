"""Helpers for the fault-injection tests: sizes, process trees, plaintext scans, stored rows.

`make reliability` sets SDLITE_RELIABILITY=full and gets the sizes of issue 7 (a 200 MiB
upload killed half-way, 50 concurrent sources); `make test` gets bounded sizes that keep
these tests under a minute on a two-core machine.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from securedrop_lite.db import Database
from securedrop_lite.models import Source, Submission

MIB = 1024 * 1024
SCAN_CHUNK_BYTES = 4 * MIB


@dataclass(frozen=True)
class Sizes:
    """How much each fault test moves."""

    killed_upload_bytes: int
    concurrent_sources: int
    messages_per_source: int
    file_bytes_per_source: int


FULL = Sizes(
    killed_upload_bytes=200 * MIB,
    concurrent_sources=50,
    messages_per_source=5,
    file_bytes_per_source=256 * 1024,
)
BOUNDED = Sizes(
    killed_upload_bytes=64 * MIB,
    concurrent_sources=12,
    messages_per_source=5,
    file_bytes_per_source=32 * 1024,
)


def sizes() -> Sizes:
    """Full sizes under `make reliability`, bounded ones otherwise."""
    return FULL if os.environ.get("SDLITE_RELIABILITY") == "full" else BOUNDED


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll condition until it holds; fail saying what never happened.

    A generous bound that only turns a hang into a failure; no test asserts on timing.
    """
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {seconds:.0f} s")
        time.sleep(0.05)


# -- processes, read from /proc (no psutil on the server) ---------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    """Return /proc/<pid>/stat after the command name (state first), or None if gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw.rpartition(")")[2].split()


def is_alive(pid: int) -> bool:
    """Whether pid runs: a zombie waiting for its parent to reap it counts as gone."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def _all_pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _parent(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return None if fields is None else int(fields[1])


def descendants(root: int) -> list[int]:
    """Every living process below root, parents before children."""
    children: dict[int, list[int]] = {}
    for pid in _all_pids():
        parent = _parent(pid)
        if parent is not None:
            children.setdefault(parent, []).append(pid)
    found: list[int] = []
    frontier = [root]
    while frontier:
        below = [c for p in frontier for c in children.get(p, []) if is_alive(c)]
        found.extend(below)
        frontier = below
    return found


def command_line(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def is_gpg(pid: int) -> bool:
    args = command_line(pid)
    return bool(args) and Path(args[0]).name in ("gpg", "gpg2")


def gpg_processes_using(home: Path) -> list[int]:
    """Living gpg processes, anywhere on the machine, working in this GnuPG home."""
    return [
        pid
        for pid in _all_pids()
        if is_alive(pid) and is_gpg(pid) and str(home) in command_line(pid)
    ]


def bytes_read_by(pid: int) -> int:
    """How many bytes pid has read so far (rchar), 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/io").read_text().splitlines():
            if line.startswith("rchar:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def kill_now(pids: Iterable[int]) -> None:
    """SIGKILL each pid in order; one already gone is skipped."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue


# -- files -------------------------------------------------------------------------------


def files_under(*roots: Path) -> list[Path]:
    """Every regular file under roots, symbolic links not followed."""
    found = []
    for root in roots:
        for path in root.rglob("*"):
            try:
                if path.is_file() and not path.is_symlink():
                    found.append(path)
            except OSError:
                continue  # vanished while we looked
    return sorted(found)


def _contains(path: Path, needle: bytes) -> bool:
    overlap = len(needle) - 1
    tail = b""
    with path.open("rb") as f:
        while chunk := f.read(SCAN_CHUNK_BYTES):
            if needle in tail + chunk:
                return True
            tail = chunk[-overlap:] if overlap else b""
    return False


def files_containing(roots: Iterable[Path], needle: bytes) -> list[Path]:
    """Every file under roots whose bytes contain needle, read in full however large."""
    found = []
    for path in files_under(*roots):
        try:
            if _contains(path, needle):
                found.append(path)
        except OSError:
            continue
    return found


def store_files(data_dir: Path) -> dict[str, bytes]:
    """Every file in the store, the staging folder included, by its path under the store."""
    root = data_dir / "store"
    return {str(p.relative_to(root)): p.read_bytes() for p in files_under(root)}


def marked_chunks(total: int, marker: bytes, chunk: int = MIB) -> Iterator[bytes]:
    """Yield total bytes of random data, each chunk starting with marker."""
    sent = 0
    while sent < total:
        size = min(chunk, total - sent)
        yield (marker + os.urandom(max(size - len(marker), 0)))[:size]
        sent += size


# -- the database, through SQLAlchemy on config.database_url ------------------------------


@dataclass(frozen=True)
class StoredRow:
    """One submission row, with the store folder of its source."""

    store_dir: str
    number: int
    kind: str
    file_name: str
    size: int
    deleted: bool

    @property
    def path(self) -> str:
        return f"{self.store_dir}/{self.file_name}"


@contextmanager
def _connection(database_url: str) -> Iterator[Connection]:
    """A connection opened the way the app opens it (postgresql:// means psycopg)."""
    database = Database(database_url, lambda: datetime.now(UTC))
    try:
        with database.engine.connect() as connection:
            yield connection
    finally:
        database.dispose()


def submission_rows(database_url: str) -> list[StoredRow]:
    """Every submission row, deleted or not, read on whichever database the instance uses."""
    with _connection(database_url) as connection:
        rows = connection.execute(
            select(
                Source.store_dir,
                Submission.number,
                Submission.kind,
                Submission.file_name,
                Submission.size,
                Submission.deleted,
            )
            .join(Source, Submission.source_id == Source.id)
            .order_by(Source.store_dir, Submission.number)
        ).all()
    return [StoredRow(*row) for row in rows]


def source_count(database_url: str) -> int:
    with _connection(database_url) as connection:
        return len(connection.execute(select(Source.id)).all())


def sqlite_integrity(database_url: str) -> str:
    """PRAGMA integrity_check on SQLite ('ok' when sound); PostgreSQL keeps its own."""
    with _connection(database_url) as connection:
        if connection.dialect.name != "sqlite":
            return "ok"
        return str(connection.execute(text("PRAGMA integrity_check")).scalar_one())
