"""From a source's browser to the air-gapped machine: real servers, a real zip, real gpg."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import (
    VENV_BIN,
    HttpOmbuds,
    HttpSource,
    KeyPair,
    LiveServer,
    add_user,
    csrf_token,
)

TWENTY_MIB = 20 * 1024 * 1024
FILE_NAME = "Día 14 — call sheet (final).pdf"


def download_zip(ombuds: HttpOmbuds, ref: str, target: Path) -> None:
    """Stream the zip of everything for one source to disk, as a browser would save it."""
    token = csrf_token(ombuds.get(f"/col/{ref}").text)
    response = ombuds.http.post(
        f"{ombuds.base}/col/{ref}/items",
        data={"csrf_token": token, "action": "download-all"},
        stream=True, timeout=120,
    )  # fmt: skip
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/zip"
    with target.open("wb") as out:
        for chunk in response.iter_content(1024 * 1024):
            out.write(chunk)
    assert target.stat().st_size == int(response.headers["Content-Length"])


@pytest.mark.slow
def test_a_message_and_a_20_mib_file_reach_the_air_gap_with_exact_bytes_and_name(
    servers: tuple[LiveServer, LiveServer], ombuds_key: KeyPair, tmp_path: Path
) -> None:
    source_server, ombuds_server = servers
    source = HttpSource(source_server.url)
    source.signup()
    message = "The first AD keeps scheduling 16-hour days and shouting at the PAs."
    document = os.urandom(TWENTY_MIB)
    assert source.submit(message, (io.BytesIO(document), FILE_NAME)).status_code == 302

    ombuds = HttpOmbuds(ombuds_server.url)
    assert ombuds.login(add_user(source_server.data_dir)).status_code == 302
    (ref,) = [p.name for p in (source_server.data_dir / "store").iterdir() if p.name[0] != "."]
    reply = "Thank you for telling us. Nothing happens without your say-so."
    assert ombuds.post("/reply", {"source": ref, "message": reply}).status_code == 302
    bundle = tmp_path / "usb-stick" / "download.zip"
    bundle.parent.mkdir()
    download_zip(ombuds, ref, bundle)

    out = tmp_path / "decrypted"
    done = subprocess.run(
        [str(VENV_BIN / "sdlite-airgap"), "decrypt", str(bundle), "--gnupghome",
         str(ombuds_key.airgap_home), "--out", str(out), "--no-passphrase"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 decrypted, 0 failed" in done.stdout
    (folder,) = out.iterdir()
    written = {p.name: p for p in folder.iterdir()}
    assert FILE_NAME in written
    assert (
        hashlib.sha256(written[FILE_NAME].read_bytes()).digest()
        == hashlib.sha256(document).digest()
    )
    (msg,) = [p for name, p in written.items() if name.endswith("-msg.txt")]
    assert msg.read_text() == message
    # The ombuds' own copy of the reply decrypts like a message.
    (own_reply,) = [p for name, p in written.items() if name.endswith("-reply.txt")]
    assert own_reply.read_text() == reply
    assert folder.name in msg.name
