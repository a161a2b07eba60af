"""The source, over HTTP: sign up, then POST a file to /submit as a browser would stream it."""

from __future__ import annotations

import http.client
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.common import MIB, BenchError, csrf_token
from bench.server import Server

CHUNK = MIB  # the size of each send, and of every read buffer in this benchmark

_CODENAME = re.compile(r'<p class="codename" id="codename">([^<]+)</p>')


def sign_up(server: Server) -> requests.Session:
    browser = requests.Session()
    consent = browser.get(server.url + "/consent", timeout=120, allow_redirects=False).text
    accepted = browser.post(
        server.url + "/consent",
        data={"csrf_token": csrf_token(consent), "next": "generate"},
        allow_redirects=False,
        timeout=120,
    )
    if accepted.status_code != 302:
        raise BenchError(f"/consent answered {accepted.status_code}")
    page = browser.get(server.url + "/generate", timeout=120, allow_redirects=False).text
    if not _CODENAME.search(page):
        raise BenchError("no codename on /generate")
    response = browser.post(
        server.url + "/create",
        data={"csrf_token": csrf_token(page)},
        allow_redirects=False,
        timeout=120,
    )
    if response.status_code != 302:
        raise BenchError(f"/create answered {response.status_code}")
    return browser


@dataclass
class Sent:
    seconds: float  # first request byte to the complete answer
    send_seconds: float  # first request byte to the last body byte handed to the kernel
    client_cpu_seconds: float
    status: int
    location: str
    body_bytes: int  # what Content-Length announced


def multipart(token: str, path: Path) -> tuple[str, bytes, bytes]:
    """Return a boundary and the multipart body around path's bytes: its head and its tail."""
    boundary = "sdlite-bench-" + secrets.token_hex(12)
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="csrf_token"\r\n\r\n'
        f"{token}\r\n"
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="msg"\r\n\r\n'
        "\r\n"
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="fh"; filename="{path.name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return boundary, head, tail


def send_body(
    connection: http.client.HTTPConnection, body: tuple[bytes, Path, bytes], buffer: bytearray
) -> None:
    """Send head, the file in sends of len(buffer), and tail; if cut off, say what it answered."""
    head, path, tail = body
    view = memoryview(buffer)
    sock = connection.sock
    try:
        sock.sendall(head)
        with path.open("rb", buffering=0) as f:
            while n := f.readinto(buffer):
                sock.sendall(view[:n])
        sock.sendall(tail)
    except (BrokenPipeError, ConnectionResetError) as exc:
        # The server answered before the body was complete (a 4xx): say what it said.
        try:
            early = connection.getresponse()
            said = f"{early.status} {early.read(300)!r}"
        except (OSError, http.client.HTTPException):
            said = "nothing"
        raise BenchError(f"the server cut the upload off ({exc}); it answered {said}") from exc


def post_file(server: Server, browser: requests.Session, path: Path) -> Sent:
    """POST /submit with path as `fh`, streamed from disk in 1 MiB sends; time it."""
    page = browser.get(server.url + "/lookup", timeout=60, allow_redirects=False)
    if page.status_code != 200:
        raise BenchError(f"/lookup answered {page.status_code}")
    cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
    sent, _ = timed_post(connection, cookie, csrf_token(page.text), path)
    return sent


def timed_post(
    connection: http.client.HTTPConnection, cookie: str, token: str, path: Path
) -> tuple[Sent, http.client.HTTPResponse]:
    """POST /submit with path as `fh` over connection, then close it; time it, first byte on.

    Returns the timings and the (read) response, for callers that want its headers.
    """
    boundary, head, tail = multipart(token, path)
    size = len(head) + path.stat().st_size + len(tail)
    buffer = bytearray(CHUNK)
    try:
        cpu0 = time.thread_time()
        t0 = time.perf_counter()
        connection.putrequest("POST", "/submit", skip_accept_encoding=True)
        connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        connection.putheader("Content-Length", str(size))
        if cookie:
            connection.putheader("Cookie", cookie)
        connection.endheaders()
        send_body(connection, (head, path, tail), buffer)
        t_sent = time.perf_counter()
        response = connection.getresponse()
        response.read()
        t1 = time.perf_counter()
        cpu1 = time.thread_time()
    finally:
        connection.close()
    location = response.getheader("Location") or ""
    return Sent(t1 - t0, t_sent - t0, cpu1 - cpu0, response.status, location, size), response
