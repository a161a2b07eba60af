"""The zip download over HTTP, and the check of the archive it returned."""

from __future__ import annotations

import collections
import io
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import requests

from bench.common import MIB, BenchError, csrf_token
from bench.ombuds.data import StoredFile
from bench.ombuds.plan import TAIL_BYTES
from bench.server import Server


@dataclass
class Downloaded:
    seconds: float
    body_bytes: int
    content_length: int
    client_cpu_seconds: float
    head: bytes
    tail: bytes


def download_all(server: Server, browser: requests.Session, ref: str) -> Downloaded:
    """POST download-all and read the archive in 1 MiB chunks; time it, keep its two ends."""
    page = browser.get(f"{server.url}/col/{ref}", timeout=60, allow_redirects=False)
    if page.status_code != 200:
        raise BenchError(f"/col/{ref} answered {page.status_code}")
    form = {"csrf_token": csrf_token(page.text), "action": "download-all"}
    last: collections.deque[bytes] = collections.deque(maxlen=2)
    head = b""
    count = 0
    cpu0, t0 = time.thread_time(), time.perf_counter()
    with browser.post(
        f"{server.url}/col/{ref}/items", data=form, stream=True, timeout=600
    ) as response:
        if response.status_code != 200 or response.headers.get("Content-Type") != "application/zip":
            raise BenchError(f"download answered {response.status_code}\n{server.log_text()}")
        for chunk in response.iter_content(MIB):
            head = head or chunk[:4]
            count += len(chunk)
            last.append(chunk)
        length = int(response.headers.get("Content-Length", -1))
    t1, cpu1 = time.perf_counter(), time.thread_time()
    tail = b"".join(last)[-TAIL_BYTES:]
    return Downloaded(t1 - t0, count, length, cpu1 - cpu0, head, tail)


class _ArchiveTail(io.RawIOBase):
    """The end of a streamed archive, seekable as if all of it were there: zipfile reads
    only the end records and the central directory to list the members."""

    def __init__(self, tail: bytes, total: int) -> None:
        super().__init__()
        self.tail, self.start, self.total, self.position = tail, total - len(tail), total, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.total}[whence]
        self.position = base + offset
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer: Any) -> int:
        if self.position < self.start:
            raise OSError("zipfile read before the kept tail of the archive")
        data = self.tail[self.position - self.start :][: len(buffer)]
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)


def verify_archive(downloaded: Downloaded, files: Sequence[StoredFile]) -> dict[str, Any]:
    """Check the archive's length and its central directory: names, sizes and CRC-32s."""
    expected = {f.arcname: (f.size, f.crc) for f in files}
    listed: dict[str, tuple[int, int, int | str]]  # name: size, CRC-32, method (or the error)
    try:
        with zipfile.ZipFile(_ArchiveTail(downloaded.tail, downloaded.body_bytes)) as archive:
            listed = {i.filename: (i.file_size, i.CRC, i.compress_type) for i in archive.infolist()}
    except (zipfile.BadZipFile, OSError) as exc:
        listed = {"error": (0, 0, str(exc))}
    result = {
        "body_bytes": downloaded.body_bytes,
        "content_length": downloaded.content_length,
        "length_matches": downloaded.body_bytes == downloaded.content_length,
        "starts_with_local_header": downloaded.head == b"PK\x03\x04",
        "members_match": {n: (s, c) for n, (s, c, _) in listed.items()} == expected,
        "all_stored": all(method == zipfile.ZIP_STORED for _, _, method in listed.values()),
        "overhead_bytes": downloaded.body_bytes - sum(f.size for f in files),
    }
    result["ok"] = all(result[k] for k in ("length_matches", "starts_with_local_header",
                                           "members_match", "all_stored"))  # fmt: skip
    return result
