"""The source app served by real gunicorn over real HTTP on loopback."""

from __future__ import annotations

import hashlib
import io
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from securedrop_lite.airgap.decrypt import decrypt_file
from securedrop_lite.config import config_path, load_config
from securedrop_lite.web.headers import SECURITY_HEADERS
from tests.conftest import (
    HttpSource,
    KeyPair,
    LiveServer,
    csrf_token,
    start_live_server,
    stop_live_server,
)
from tests.dbdump import dump_database

CANARY = b"CANARY-7c1d0e55-plaintext-must-never-touch-disk|"


def _files_under(root: Path, newer_than: float = 0.0) -> Iterator[Path]:
    for path in root.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink() and path.stat().st_mtime >= newer_than:
                yield path
        except OSError:
            continue  # vanished while we looked


def _grep(roots: list[Path], needle: bytes, newer_than: float = 0.0) -> list[Path]:
    found = []
    for root in roots:
        for path in _files_under(root, newer_than):
            try:
                if needle in path.read_bytes():
                    found.append(path)
            except OSError:
                continue
    return found


def _database_text(data_dir: Path) -> str:
    """Every row of every table, one line each, whichever database holds them."""
    return dump_database(load_config(os.environ, config_path(data_dir)).database_url)


def _stored(data_dir: Path, suffix: str) -> list[Path]:
    return sorted((data_dir / "store").rglob(f"*-{suffix}.gpg"))


@pytest.fixture
def production_kdf_server(data_dir: Path, tmp_path: Path) -> Iterator[LiveServer]:
    """A server with the default Argon2id costs (64 MiB), as in production."""
    server = start_live_server(data_dir, tmp_path, {"SDLITE_KDF_PROFILE": "default"})
    yield server
    stop_live_server(server)


def test_codename_appears_in_no_cookie_log_row_or_file(production_kdf_server: LiveServer) -> None:
    server = production_kdf_server
    source = HttpSource(server.url)
    codename = source.signup()
    assert source.submit("my message", (io.BytesIO(b"file body"), "notes.txt")).status_code == 302
    source.get("/logout")
    assert source.login().status_code == 302
    assert "You have sent 2 items" in source.get("/lookup").text
    forms = {codename, codename.replace(" ", "+"), codename.replace(" ", "-"),
             codename.replace(" ", "%20"), codename.replace(" ", "")}  # fmt: skip
    cookies = " ".join(f"{c.name}={c.value}" for c in source.http.cookies)
    database = _database_text(server.data_dir)
    logs = server.log_text()
    for form in forms:
        assert form not in cookies
        assert form not in logs
        assert form not in database
        assert _grep([server.data_dir, server.temp_dir], form.encode()) == []


def test_upload_plaintext_never_reaches_disk(live_server: LiveServer) -> None:
    started = time.time() - 1
    source = HttpSource(live_server.url)
    source.signup()
    body = CANARY * (8 * 1024 * 1024 // len(CANARY))  # 8 MiB: Werkzeug would spool this to disk
    assert source.submit("see attached", (io.BytesIO(body), "canary.bin")).status_code == 302
    # A file in an unexpected field takes the encrypted-spool path, and is refused.
    page = source.get("/lookup").text
    refused = source.http.post(
        live_server.url + "/submit",
        data={"csrf_token": csrf_token(page), "msg": "x"},
        files={"other": ("c.bin", io.BytesIO(body))},
        timeout=60,
    )
    assert refused.status_code == 400
    # A file posted to a route that takes none is spooled encrypted and ignored.
    assert source.http.post(
        live_server.url + "/login", files={"fh": ("c.bin", io.BytesIO(body))}, timeout=60
    ).status_code in (400, 401)
    roots = [live_server.data_dir, live_server.temp_dir, Path(tempfile.gettempdir())]
    assert _grep(roots, CANARY[:32], newer_than=started) == []
    assert CANARY[:32].decode() not in _database_text(live_server.data_dir)
    assert len(_stored(live_server.data_dir, "doc")) == 1


@pytest.mark.slow
def test_fifty_mib_file_decrypts_to_the_exact_bytes_and_name(
    live_server: LiveServer, ombuds_key: KeyPair, tmp_path: Path
) -> None:
    body = os.urandom(50 * 1024 * 1024)
    source = HttpSource(live_server.url)
    source.signup()
    message = "Third week of 16-hour days; the producer said to keep quiet. — ñ"
    response = source.submit(message, (io.BytesIO(body), "Schedule week 3 (final).mov"))
    assert response.status_code == 302
    (doc,) = _stored(live_server.data_dir, "doc")
    (msg,) = _stored(live_server.data_dir, "msg")
    decrypted = decrypt_file(ombuds_key.airgap_home, doc, tmp_path / "out")
    assert decrypted.original_name == "Schedule week 3 (final).mov"
    assert hashlib.sha256(decrypted.path.read_bytes()).digest() == hashlib.sha256(body).digest()
    text = decrypt_file(ombuds_key.airgap_home, msg, tmp_path / "out").path.read_text()
    assert text == message
    assert b"Schedule week" not in doc.read_bytes()


def test_oversized_upload_gets_a_413_page_and_nothing_is_lost(
    data_dir: Path, tmp_path: Path
) -> None:
    server = start_live_server(data_dir, tmp_path, {"SDLITE_MAX_UPLOAD_BYTES": str(1024 * 1024)})
    try:
        source = HttpSource(server.url)
        source.signup()
        assert (
            source.submit("kept", (io.BytesIO(os.urandom(512 * 1024)), "ok.bin")).status_code == 302
        )
        before = {p: p.read_bytes() for p in _stored(data_dir, "*")}
        response = source.submit("lost", (io.BytesIO(os.urandom(3 * 1024 * 1024)), "big.bin"))
        assert response.status_code == 413
        assert "Request Entity Too Large" in response.text
        assert (
            response.headers["Content-Security-Policy"]
            == SECURITY_HEADERS["Content-Security-Policy"]
        )
        # Without a Content-Length (chunked), the limit is enforced while reading.
        page = source.get("/lookup").text
        chunks = (os.urandom(256 * 1024) for _ in range(12))
        chunked = _post_chunked_multipart(source, "/submit", csrf_token(page), chunks)
        assert chunked == 413
        assert {p: p.read_bytes() for p in _stored(data_dir, "*")} == before
        assert list((data_dir / "store" / ".staging").iterdir()) == []
        assert "Traceback" not in server.log_text()
    finally:
        stop_live_server(server)


def _post_chunked_multipart(
    source: HttpSource, path: str, token: str, chunks: Iterator[bytes]
) -> int:
    boundary = "sdliteboundary"

    def body() -> Iterator[bytes]:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
            f"{token}\r\n--{boundary}\r\n"
            'Content-Disposition: form-data; name="fh"; filename="c.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        yield head.encode()
        yield from chunks
        yield f"\r\n--{boundary}--\r\n".encode()

    try:
        response = source.http.post(
            source.base + path,
            data=body(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
            allow_redirects=False,
            timeout=60,
        )
    except requests.ConnectionError:
        return -1
    return response.status_code


def test_malformed_requests_get_plain_error_pages_never_500(live_server: LiveServer) -> None:
    source = HttpSource(live_server.url)
    source.signup()
    multipart = "multipart/form-data; boundary=b"
    unterminated = b'--b\r\nContent-Disposition: form-data; name="msg"\r\n\r\nunterminated'
    bad_bodies = [
        (unterminated, multipart),
        (b"\x00\xff" * 1000, multipart),
        (b"msg=%ZZ%", "application/x-www-form-urlencoded"),
        (b"{}", "application/json"),
    ]
    for body, content_type in bad_bodies:
        response = source.http.post(
            live_server.url + "/submit",
            data=body,
            headers={"Content-Type": content_type},
            timeout=30,
        )
        assert response.status_code == 400, (body[:30], response.status_code)
        assert "Traceback" not in response.text
    assert _stored(live_server.data_dir, "*") == []
    assert "Traceback" not in live_server.log_text()


def test_server_keeps_no_address_or_user_agent(live_server: LiveServer) -> None:
    marker = "UA-canary-3b9f"
    requests.get(
        live_server.url + "/",
        headers={"User-Agent": marker, "Referer": marker + "-ref"},
        timeout=10,
    )
    with socket.create_connection(("127.0.0.1", int(live_server.url.rsplit(":", 1)[1]))) as raw:
        raw.sendall(b"GARBAGE / HTTP/9.9\r\nUser-Agent: " + marker.encode() + b"\r\n\r\n")
        raw.recv(4096)
    source = HttpSource(live_server.url)
    source.http.headers["User-Agent"] = marker
    source.signup()
    source.submit("hello")
    time.sleep(0.5)
    logs = live_server.log_text()
    assert marker not in logs
    assert "127.0.0.1" not in logs
    assert marker not in _database_text(live_server.data_dir)
    assert _grep([live_server.data_dir], marker.encode()) == []


def test_real_http_responses_carry_the_header_set_and_no_version(live_server: LiveServer) -> None:
    for path in ("/", "/static/style.css", "/missing", "/metadata"):
        response = requests.get(live_server.url + path, timeout=10)
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (path, name)
        assert "ETag" not in response.headers
        assert "Last-Modified" not in response.headers
        assert not any(ch.isdigit() for ch in response.headers.get("Server", ""))


def test_stored_files_and_rows_carry_no_time_of_day(live_server: LiveServer) -> None:
    data = live_server.data_dir
    keyring_before = {p: p.stat().st_mtime for p in [data / "gnupg", *(data / "gnupg").rglob("*")]}
    # What the server's start left (on PostgreSQL no database commit resets these times).
    started = {p: p.stat().st_mtime for p in (data, data / "store")}
    source = HttpSource(live_server.url)
    source.signup()
    source.submit("dated", (io.BytesIO(b"x" * 1000), "a.txt"))
    for path in _stored(live_server.data_dir, "*"):
        for directory in (path, path.parent):
            assert int(directory.stat().st_mtime) % 86400 == 0
    source.get("/logout")  # a later session write must not stamp the time either
    source.login()
    database_file = [data / "sdlite.db"] if data.joinpath("sdlite.db").exists() else []
    assert database_file or os.environ.get("SDLITE_DATABASE_URL", "").startswith("postgresql")
    for path in (*database_file, data, data / "store"):
        mtime = path.stat().st_mtime
        # The start of a day, or untouched by what the source did.
        assert int(mtime) % 86400 == 0 or mtime == started.get(path), path
    # Encrypting must leave the keyring untouched (gpg's random_seed would record the time).
    keyring_after = {p: p.stat().st_mtime for p in [data / "gnupg", *(data / "gnupg").rglob("*")]}
    assert keyring_after == keyring_before
    database = _database_text(live_server.data_dir)
    submissions = [
        line.removeprefix("submissions: ")
        for line in database.splitlines()
        if line.startswith("submissions: ")
    ]
    assert len(submissions) == 2
    assert ":" not in "".join(submissions)  # no time of day in any column
