"""A full disk: a clear "could not store" page, nothing partial left, earlier items intact.

The instance runs from a small tmpfs (data dir and TMPDIR both on it). On SQLite the
database is there too, so a full disk reaches it; with PostgreSQL it lives elsewhere, and
only config.database_url says which. Mounting needs root (or `sudo -n`): without it these
tests fail, they never skip.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from securedrop_lite.config import Config, config_path, load_config
from tests.conftest import (
    HttpSource,
    KeyPair,
    LiveServer,
    csrf_token,
    decrypt_with_airgap_tool,
    start_live_server,
    stop_live_server,
)
from tests.reliability.faults import (
    MIB,
    files_under,
    sqlite_integrity,
    store_files,
    submission_rows,
)

DISK_BYTES = 16 * MIB
PAGE_BYTES = 4096
# The page a source gets when nothing of a submission could be stored (source_interface
# errors.NOTHING_STORED), and the statuses that may carry it.
COULD_NOT_STORE = "could not be stored, and nothing of it was kept"
STORAGE_STATUSES = (503, 507)


def _as_root(args: list[str]) -> list[str]:
    return args if os.geteuid() == 0 else ["sudo", "-n", *args]


def mount_tmpfs(mountpoint: Path, size: int) -> None:
    options = f"size={size},mode=0700"
    done = subprocess.run(
        _as_root(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mountpoint)]),
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.fail(
            "the full-disk tests mount a small tmpfs and need root or passwordless sudo: "
            f"mount said {done.stderr.strip() or done.returncode}"
        )


def unmount(mountpoint: Path) -> None:
    done = subprocess.run(_as_root(["umount", str(mountpoint)]), capture_output=True, check=False)
    if done.returncode != 0:  # still busy: detach it now, the kernel frees it when idle
        subprocess.run(_as_root(["umount", "-l", str(mountpoint)]), check=True)


@dataclass
class SmallDisk:
    """A running source server whose data dir and TMPDIR are on a small tmpfs."""

    mountpoint: Path
    config: Config
    server: LiveServer
    temp_dir: Path

    def free_bytes(self) -> int:
        stats = os.statvfs(self.mountpoint)
        return stats.f_bavail * stats.f_frsize


@pytest.fixture
def small_disk(data_dir: Path, tmp_path: Path) -> Iterator[SmallDisk]:
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    mount_tmpfs(mountpoint, DISK_BYTES)
    server = None
    try:
        data = mountpoint / "data"
        shutil.copytree(data_dir, data, symlinks=True)  # copy2 keeps modes
        temp_dir = mountpoint / "tmp"
        temp_dir.mkdir(mode=0o700)
        work = tmp_path / "work"  # the server's log stays off the small disk
        work.mkdir()
        config = load_config(os.environ, config_path(data))
        server = start_live_server(data, work, {"TMPDIR": str(temp_dir)})
        yield SmallDisk(mountpoint, config, server, temp_dir)
    finally:
        if server is not None:
            stop_live_server(server)
        unmount(mountpoint)


def fill(path: Path) -> None:
    """Write zeros to path until the file system has no byte left."""
    with path.open("wb", buffering=0) as f:
        block = b"\0" * (256 * 1024)
        while True:
            try:
                f.write(block)
            except OSError:
                break
        while True:
            try:
                f.write(b"\0" * 512)
            except OSError:
                break


def submit_ok(source: HttpSource, message: str, file: tuple[bytes, str] | None = None) -> None:
    upload = (io.BytesIO(file[0]), file[1]) if file else None
    response = source.submit(message, upload)
    assert response.status_code == 302, (response.status_code, response.text[:500])


def post_submission(
    source: HttpSource, token: str, message: str, file: tuple[bytes, str] | None = None
) -> requests.Response:
    """POST /submit with a CSRF token taken earlier: reading /lookup may write the session."""
    files = {"fh": (file[1], io.BytesIO(file[0]), "application/octet-stream")} if file else None
    return source.http.post(
        source.base + "/submit",
        data={"csrf_token": token, "msg": message},
        files=files,
        allow_redirects=False,
        timeout=120,
    )


def login_problems(returning: HttpSource, codename: str) -> list[str]:
    """Log in on a full disk (a new session, a throttle count); return any 5xx but a 503."""
    page = returning.get("/login")
    if page.status_code != 200:
        return [] if page.status_code == 503 else [describe("the login page", page)]
    login = returning.login(codename)
    if login.status_code >= 500 and login.status_code != 503:
        return [describe("a login", login)]
    return []


def could_not_store(response: requests.Response) -> bool:
    """Whether this is the plain "could not store" page, as a source should get it."""
    return (
        response.status_code in STORAGE_STATUSES
        and COULD_NOT_STORE in response.text
        and "Traceback" not in response.text
    )


def describe(what: str, response: requests.Response) -> str:
    return f"{what}: {response.status_code} {_main_text(response.text)}"


def _main_text(page: str) -> str:
    found = re.search(r'<p id="error-description">([^<]*)</p>', page)
    return found.group(1) if found else page[:200]


def assert_consistent(disk: SmallDisk, expected_rows: int) -> None:
    """Rows and files match one to one, nothing is staged, no temporary file is left."""
    rows = submission_rows(disk.config.database_url)
    assert len(rows) == expected_rows
    assert set(store_files(disk.config.data_dir)) == {row.path for row in rows}
    assert files_under(disk.temp_dir) == []
    assert sqlite_integrity(disk.config.database_url) == "ok"


def decrypted_contents(disk: SmallDisk, key: KeyPair, out: Path) -> list[bytes]:
    """Every stored item's plaintext, in row order."""
    contents = []
    for number, row in enumerate(submission_rows(disk.config.database_url)):
        ciphertext = disk.config.store_dir / row.path
        contents.append(decrypt_with_airgap_tool(ciphertext, out / str(number), key).read_bytes())
    return contents


def signed_up_with_earlier_items(disk: SmallDisk) -> tuple[HttpSource, list[bytes]]:
    """A source who has sent two messages and a file; return it and the plaintexts sent."""
    source = HttpSource(disk.server.url)
    source.signup()
    earlier_file = b"earlier file\n" + secrets.token_bytes(256 * 1024)
    submit_ok(source, "earlier message one")
    submit_ok(source, "earlier message two", (earlier_file, "earlier.bin"))
    return source, [b"earlier message one", b"earlier message two", earlier_file]


def test_a_file_larger_than_the_free_space_gets_a_could_not_store_page_and_leaves_nothing(
    small_disk: SmallDisk, ombuds_key: KeyPair, tmp_path: Path
) -> None:
    source, earlier = signed_up_with_earlier_items(small_disk)
    stored_before = store_files(small_disk.config.data_dir)
    free_before = small_disk.free_bytes()

    too_big = secrets.token_bytes(free_before + 2 * MIB)
    refused = source.submit("", (io.BytesIO(too_big), "too big.bin"))

    assert store_files(small_disk.config.data_dir) == stored_before
    assert_consistent(small_disk, expected_rows=3)
    # No unnamed file held open either: the space came back (the database may grow a page).
    assert small_disk.free_bytes() >= free_before - 256 * 1024
    submit_ok(source, "after the refusal")
    assert decrypted_contents(small_disk, ombuds_key, tmp_path / "plain") == [
        *earlier,
        b"after the refusal",
    ]
    assert could_not_store(refused), describe("a file larger than the free space", refused)
    assert "Traceback" not in small_disk.server.log_text()


def test_a_full_disk_refuses_what_it_cannot_keep_stays_consistent_and_recovers(
    small_disk: SmallDisk, ombuds_key: KeyPair, tmp_path: Path
) -> None:
    """Fill the disk, then free it one page at a time until a message fits.

    Along the way each write fails at a different point (gpg's output, the staging file,
    the database journal on SQLite, the session); every answer must be stored-and-said-so
    or the "could not store" page, and rows and files must match after each one.
    """
    source, earlier = signed_up_with_earlier_items(small_disk)
    token = csrf_token(source.get("/lookup").text)  # shows the last flash: the session is clean
    filler = small_disk.mountpoint / "filler"
    fill(filler)
    unexpected: list[str] = []

    unexpected += login_problems(HttpSource(small_disk.server.url), source.codename)
    message = post_submission(source, token, "written while the disk was full")
    if not could_not_store(message):
        unexpected.append(describe("a message on a full disk", message))
    document = post_submission(source, token, "", (secrets.token_bytes(MIB), "full.bin"))
    if not could_not_store(document):
        unexpected.append(describe("a file on a full disk", document))
    assert_consistent(small_disk, expected_rows=3)

    kept = b""
    for page in range(1, 65):
        os.truncate(filler, max(filler.stat().st_size - PAGE_BYTES, 0))
        text = f"sent with {page} page(s) free"
        response = post_submission(source, token, text)
        if response.status_code == 302:
            kept = text.encode()
            assert_consistent(small_disk, expected_rows=4)
            break
        if not could_not_store(response):
            unexpected.append(describe(f"a message with {page} page(s) free", response))
        assert_consistent(small_disk, expected_rows=3)
    assert kept, "no message was kept with 64 pages free"

    filler.unlink()
    submit_ok(source, "after the disk was freed")
    assert_consistent(small_disk, expected_rows=5)
    assert decrypted_contents(small_disk, ombuds_key, tmp_path / "plain") == [
        *earlier,
        kept,
        b"after the disk was freed",
    ]
    if "Traceback" in small_disk.server.log_text():
        unexpected.append("the server logged a traceback")
    assert unexpected == [], "on a full disk:\n" + "\n".join(unexpected)
