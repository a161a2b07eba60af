"""Slow Tor uploads: no cap on an upload's total time, only on silence (real gunicorn)."""

from __future__ import annotations

import http.client
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import HttpSource, LiveServer, csrf_token, start_live_server, stop_live_server

IDLE_SECONDS = 2
BOUNDARY = "sdlite-slow-upload-" + secrets.token_hex(8)


@pytest.fixture
def impatient_server(data_dir: Path, tmp_path: Path) -> Iterator[LiveServer]:
    """A server that gives up on a connection after IDLE_SECONDS of silence."""
    server = start_live_server(
        data_dir, tmp_path, {"SDLITE_UPLOAD_IDLE_SECONDS": str(IDLE_SECONDS)}
    )
    yield server
    stop_live_server(server)


def multipart(token: str, payload: bytes) -> tuple[bytes, bytes]:
    """Return the body of a submission up to the file bytes, and the closing part."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="msg"\r\n\r\n\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="fh"; filename="slow.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head, f"\r\n--{BOUNDARY}--\r\n".encode()


def open_upload(source: HttpSource, size: int) -> tuple[http.client.HTTPConnection, bytes, bytes]:
    """Send the headers of an upload of size bytes; return the connection and the framing."""
    token = csrf_token(source.get("/lookup").text)
    head, tail = multipart(token, b"")
    url = urlsplit(source.base)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=60)
    connection.putrequest("POST", "/submit")
    connection.putheader("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")
    connection.putheader("Content-Length", str(len(head) + size + len(tail)))
    cookies = "; ".join(f"{c.name}={c.value}" for c in source.http.cookies)
    connection.putheader("Cookie", cookies)
    connection.endheaders()
    connection.send(head)
    return connection, head, tail


def stored_documents(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "store").rglob("*-doc.gpg"))


def test_an_upload_slower_than_the_idle_timeout_in_total_still_arrives(
    impatient_server: LiveServer,
) -> None:
    source = HttpSource(impatient_server.url)
    source.signup()
    pieces = [secrets.token_bytes(32 * 1024) for _ in range(8)]
    connection, _, tail = open_upload(source, sum(map(len, pieces)))
    started = time.monotonic()
    for piece in pieces:
        time.sleep(IDLE_SECONDS / 2)  # silent for half the limit each time
        connection.send(piece)
    connection.send(tail)
    response = connection.getresponse()
    elapsed = time.monotonic() - started
    connection.close()
    assert elapsed > 3 * IDLE_SECONDS  # far longer than the limit on silence
    assert response.status == 302, response.read()[:500]
    assert len(stored_documents(impatient_server.data_dir)) == 1


def test_a_stalled_upload_is_stopped_with_a_408_page_and_nothing_is_kept(
    impatient_server: LiveServer,
) -> None:
    source = HttpSource(impatient_server.url)
    source.signup()
    assert source.submit("kept before the stall").status_code == 302
    connection, _, _ = open_upload(source, 1024 * 1024)
    connection.send(secrets.token_bytes(100 * 1024))
    time.sleep(IDLE_SECONDS * 2)  # the client goes quiet
    response = connection.getresponse()
    body = response.read().decode()
    connection.close()
    assert response.status == 408
    assert "nothing of it was kept" in body
    assert "Traceback" not in body
    assert stored_documents(impatient_server.data_dir) == []
    assert len(sorted((impatient_server.data_dir / "store").rglob("*-msg.gpg"))) == 1
    assert "Traceback" not in impatient_server.log_text()
    # The server goes on serving.
    assert requests.get(impatient_server.url + "/", timeout=10).status_code == 200
