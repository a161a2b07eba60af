"""Both apps served by real gunicorn over real HTTP: a source writes, the ombuds answers."""

from __future__ import annotations

import io
import json
import os
import subprocess
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from securedrop_lite.airgap.decrypt import decrypt_file
from securedrop_lite.auth import totp_code
from securedrop_lite.web.headers import SECURITY_HEADERS
from tests.conftest import (
    VENV_BIN,
    HttpSource,
    KeyPair,
    LiveServer,
    csrf_token,
    start_live_server,
    stop_live_server,
)


@pytest.fixture
def servers(data_dir: Path, tmp_path: Path) -> Iterator[tuple[LiveServer, LiveServer]]:
    source = start_live_server(data_dir, tmp_path)
    try:
        ombuds = start_live_server(data_dir, tmp_path, app="journalist")
    except BaseException:
        stop_live_server(source)
        raise
    yield source, ombuds
    stop_live_server(ombuds)
    stop_live_server(source)


def _add_user(data_dir: Path) -> dict[str, str]:
    result = subprocess.run(
        [str(VENV_BIN / "sdlite"), "user", "add", "dana", "--json", "--data-dir", str(data_dir)],
        capture_output=True, text=True, check=True, env=os.environ.copy(),
    )  # fmt: skip
    credentials: dict[str, str] = json.loads(result.stdout)
    return credentials


class HttpOmbuds:
    def __init__(self, base_url: str) -> None:
        self.base = base_url
        self.http = requests.Session()

    def get(self, path: str) -> requests.Response:
        return self.http.get(self.base + path, timeout=60, allow_redirects=False)

    def post(self, path: str, data: dict[str, str], page: str = "/") -> requests.Response:
        token = csrf_token(self.get(page).text)
        return self.http.post(
            self.base + path, data={"csrf_token": token, **data}, allow_redirects=False, timeout=60
        )

    def login(self, credentials: dict[str, str]) -> requests.Response:
        code = totp_code(credentials["totp_secret"], datetime.now(UTC))
        form = {"username": credentials["username"], "passphrase": credentials["passphrase"]}
        return self.post("/login", {**form, "token": code}, page="/login")


def test_round_trip_over_http_zip_decrypts_and_the_source_reads_the_reply(
    servers: tuple[LiveServer, LiveServer], ombuds_key: KeyPair, tmp_path: Path
) -> None:
    source_server, ombuds_server = servers
    source = HttpSource(source_server.url)
    codename = source.signup()
    message = "The stunt coordinator was told to skip the safety brief. — María"
    document = os.urandom(3 * 1024 * 1024)
    assert source.submit(message, (io.BytesIO(document), "call sheet 12.pdf")).status_code == 302

    credentials = _add_user(source_server.data_dir)
    ombuds = HttpOmbuds(ombuds_server.url)
    assert ombuds.get("/").status_code == 302
    assert ombuds.login(credentials).status_code == 302
    inbox = ombuds.get("/")
    assert inbox.status_code == 200
    for name, value in SECURITY_HEADERS.items():
        assert inbox.headers[name] == value
    (ref,) = [p.name for p in (source_server.data_dir / "store").iterdir() if p.name[0] != "."]
    assert f"/col/{ref}" in inbox.text

    archive = ombuds.post(f"/col/{ref}/items", {"action": "download-all"}, page=f"/col/{ref}")
    assert archive.status_code == 200
    assert archive.headers["Content-Type"] == "application/zip"
    out = tmp_path / "zip"
    with zipfile.ZipFile(io.BytesIO(archive.content)) as z:
        z.extractall(out)
    (msg,) = out.rglob("*-msg.gpg")
    (doc,) = out.rglob("*-doc.gpg")
    assert decrypt_file(ombuds_key.airgap_home, msg, tmp_path / "plain").path.read_text() == message
    decrypted = decrypt_file(ombuds_key.airgap_home, doc, tmp_path / "plain")
    assert decrypted.original_name == "call sheet 12.pdf"
    assert decrypted.path.read_bytes() == document

    reply = "Thank you. Would a call on Thursday suit you? You decide what happens next."
    assert ombuds.post("/reply", {"source": ref, "message": reply}).status_code == 302

    returning = HttpSource(source_server.url)
    assert returning.login(codename).status_code == 302
    assert reply in returning.get("/lookup").text

    logs = source_server.log_text() + ombuds_server.log_text()
    for secret in (credentials["passphrase"], codename, "127.0.0.1"):
        assert secret not in logs
