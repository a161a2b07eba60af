"""Both apps served by real gunicorn over real HTTP: a source writes, the ombuds answers."""

from __future__ import annotations

import io
import os
from pathlib import Path

from securedrop_lite.airgap.decrypt import decrypt_file
from securedrop_lite.web.headers import SECURITY_HEADERS
from tests.conftest import HttpOmbuds, HttpSource, KeyPair, LiveServer, add_user


def test_round_trip_over_http_zip_decrypts_and_the_source_reads_the_reply(
    servers: tuple[LiveServer, LiveServer], ombuds_key: KeyPair, tmp_path: Path
) -> None:
    source_server, ombuds_server = servers
    source = HttpSource(source_server.url)
    codename = source.signup()
    message = "The stunt coordinator was told to skip the safety brief. — María"
    document = os.urandom(3 * 1024 * 1024)
    assert source.submit(message, (io.BytesIO(document), "call sheet 12.pdf")).status_code == 302

    credentials = add_user(source_server.data_dir)
    ombuds = HttpOmbuds(ombuds_server.url)
    assert ombuds.get("/").status_code == 302
    assert ombuds.login(credentials).status_code == 302
    inbox = ombuds.get("/")
    assert inbox.status_code == 200
    for name, value in SECURITY_HEADERS.items():
        assert inbox.headers[name] == value
    (ref,) = [p.name for p in (source_server.data_dir / "store").iterdir() if p.name[0] != "."]
    assert f"/col/{ref}" in inbox.text

    msg, doc = ombuds.download_all(ref, tmp_path / "zip")
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
