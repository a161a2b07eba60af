"""kill -9 of the source server half-way through a large upload: nothing of it survives.

The whole gunicorn (arbiter and workers) is killed at once while the upload streams into
gpg. gpg itself is left alone, as a crash of the service leaves it: it must go away on
its own once its input closes, not linger holding a pipe or an unnamed staging file.
"""

from __future__ import annotations

import http.client
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from securedrop_lite.config import Config
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
    SCAN_CHUNK_BYTES,
    bytes_read_by,
    descendants,
    files_containing,
    gpg_processes_using,
    is_alive,
    is_gpg,
    kill_now,
    marked_chunks,
    sizes,
    sqlite_integrity,
    store_files,
    submission_rows,
    wait_until,
)

BOUNDARY = "sdlite-killed-upload-" + secrets.token_hex(8)


def open_upload(source: HttpSource, size: int) -> http.client.HTTPConnection:
    """Send the headers and the form fields of a one-file submission of size bytes.

    Return the connection, ready for the file's bytes (the closing boundary never comes).
    """
    token = csrf_token(source.get("/lookup").text)
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="msg"\r\n\r\n\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="fh"; filename="footage.mov"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()  # counted, never sent
    url = urlsplit(source.base)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=60)
    connection.putrequest("POST", "/submit")
    connection.putheader("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")
    connection.putheader("Content-Length", str(len(head) + size + len(tail)))
    connection.putheader("Cookie", "; ".join(f"{c.name}={c.value}" for c in source.http.cookies))
    connection.endheaders()
    connection.send(head)
    return connection


def gpg_reading_the_upload(server: LiveServer, at_least: int) -> int | None:
    """The gpg below the server that has read at least at_least bytes, if there is one."""
    for pid in descendants(server.process.pid):
        if is_gpg(pid) and bytes_read_by(pid) >= at_least:
            return pid
    return None


def kill_whole_server(server: LiveServer) -> list[int]:
    """SIGKILL the arbiter, then its workers: gpg children are left to their fate.

    The arbiter goes first so it cannot fork a replacement worker. Returns the gpg pids
    that were running under the server at that moment.
    """
    below = descendants(server.process.pid)
    gunicorn = [pid for pid in below if not is_gpg(pid)]
    gpg = [pid for pid in below if is_gpg(pid)]
    kill_now([server.process.pid, *gunicorn])
    server.process.wait(timeout=30)
    wait_until(lambda: not any(is_alive(pid) for pid in gunicorn), 30, "the workers' death")
    return gpg


def test_kill_minus_nine_mid_upload_leaves_no_plaintext_row_or_file_and_restarts(
    data_dir: Path, config: Config, tmp_path: Path, ombuds_key: KeyPair
) -> None:
    size = sizes().killed_upload_bytes
    marker = b"PLAINTEXT-MARKER-" + secrets.token_hex(16).encode() + b"|"
    first_work = tmp_path / "first"
    first_work.mkdir()
    server = start_live_server(data_dir, first_work)
    connection = None
    try:
        source = HttpSource(server.url)
        codename = source.signup()
        rows_before = submission_rows(config.database_url)
        store_before = store_files(data_dir)

        connection = open_upload(source, size)
        sent = 0
        for chunk in marked_chunks(size // 2, marker):
            connection.send(chunk)
            sent += len(chunk)
        # Mid-stream for certain: gpg has encrypted a good part of what was sent.
        wait_until(
            lambda: gpg_reading_the_upload(server, sent // 2) is not None,
            60,
            "gpg reading half of what was sent",
        )
        orphans = kill_whole_server(server)
    finally:
        if connection is not None:
            connection.close()
        if server.process.poll() is None:
            kill_now([server.process.pid, *descendants(server.process.pid)])
            server.process.wait()

    assert orphans, "no gpg was encrypting the upload when the server was killed"
    try:
        wait_until(lambda: not gpg_processes_using(config.gpg_home), 30, "gpg exiting")
    finally:
        lingering = gpg_processes_using(config.gpg_home)
        kill_now(lingering)
    assert lingering == [], "gpg outlived the killed server"

    # Nothing of the upload anywhere: data dir (database, store, staging), TMPDIR, logs.
    assert files_containing([tmp_path], marker) == []
    assert submission_rows(config.database_url) == rows_before
    assert store_files(data_dir) == store_before
    assert sqlite_integrity(config.database_url) == "ok"

    second_work = tmp_path / "second"
    second_work.mkdir()
    restarted = start_live_server(data_dir, second_work)
    try:
        returning = HttpSource(restarted.url)
        assert returning.login(codename).status_code == 302
        returning.consent()  # asked again in a new browser session until something is kept
        message = f"Sent after the crash {secrets.token_hex(8)}: the upload did not arrive."
        assert returning.submit(message).status_code == 302
        assert "Traceback" not in restarted.log_text()
    finally:
        stop_live_server(restarted)
    (row,) = submission_rows(config.database_url)
    assert row.kind == "msg"
    stored = data_dir / "store" / row.path
    plain = decrypt_with_airgap_tool(stored, tmp_path / "plain", ombuds_key)
    assert plain.read_text() == message
    assert set(store_files(data_dir)) == {*store_before, row.path}


def test_the_plaintext_scan_finds_a_marker_anywhere_in_a_large_file(tmp_path: Path) -> None:
    """The checks above are only as good as the scan: every MiB sent holds the marker, and
    a marker split across two of the scan's reads is still found."""
    chunks: Iterator[bytes] = marked_chunks(3 * MIB + 5, b"MARK")
    assert sum(len(c) for c in chunks) == 3 * MIB + 5
    assert all(c.startswith(b"MARK") for c in marked_chunks(2 * MIB, b"MARK"))
    straddling = tmp_path / "spool" / "straddling.bin"
    straddling.parent.mkdir()
    straddling.write_bytes(b"\0" * (SCAN_CHUNK_BYTES - 2) + b"MARK" + b"\0" * 10)
    (tmp_path / "clean.bin").write_bytes(b"MAR" + b"\0" * SCAN_CHUNK_BYTES + b"K")
    assert files_containing([tmp_path], b"MARK") == [straddling]
