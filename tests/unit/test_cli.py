"""The sdlite and sdlite-airgap commands: clear refusals, nothing half-made."""

from __future__ import annotations

import json
import stat
import subprocess
import time
from pathlib import Path

import pytest
import requests

from securedrop_lite.cli import main as sdlite
from securedrop_lite.config import config_path
from securedrop_lite.crypto import SubmissionKey
from tests.conftest import VENV_BIN, HttpSource, KeyPair, free_port


def test_init_creates_a_private_instance_without_secret_keys(
    tmp_path: Path, ombuds_key: KeyPair, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "instance"
    assert (
        sdlite(["init", "--data-dir", str(data), "--submission-key", str(ombuds_key.public_key)])
        == 0
    )
    assert ombuds_key.fingerprint in capsys.readouterr().out
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE(config_path(data).stat().st_mode) == 0o600
    assert stat.S_IMODE((data / "sdlite.db").stat().st_mode) & 0o077 == 0
    assert SubmissionKey(data / "gnupg", ombuds_key.fingerprint).has_secret_keys() is False


def test_init_refuses_to_run_twice(
    tmp_path: Path, ombuds_key: KeyPair, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "init",
        "--data-dir",
        str(tmp_path / "i"),
        "--submission-key",
        str(ombuds_key.public_key),
    ]
    assert sdlite(args) == 0
    before = config_path(tmp_path / "i").read_bytes()
    assert sdlite(args) == 2
    assert "initialized already" in capsys.readouterr().err
    assert config_path(tmp_path / "i").read_bytes() == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        (b"not a key at all", "no OpenPGP public key"),
        (b"-----BEGIN PGP PRIVATE KEY BLOCK-----\n", "private key"),
    ],
)
def test_init_refuses_an_unusable_key_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, message: str
) -> None:
    key = tmp_path / "key.asc"
    if content is not None:
        key.write_bytes(content)
    data = tmp_path / "instance"
    assert sdlite(["init", "--data-dir", str(data), "--submission-key", str(key)]) == 2
    assert message in capsys.readouterr().err
    assert not config_path(data).exists()
    assert not (data / "gnupg").exists()


def test_serve_refuses_a_non_loopback_address(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert sdlite(["serve", "source", "--data-dir", str(data_dir), "--bind", "0.0.0.0:8080"]) == 2
    assert "loopback only" in capsys.readouterr().err


def _wait_for(url: str) -> requests.Response:
    deadline = time.monotonic() + 60
    while True:
        try:
            return requests.get(url, timeout=2)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_demo_sets_up_and_serves_a_working_instance(tmp_path: Path) -> None:
    port, ombuds_port = free_port(), free_port()
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        demo = subprocess.Popen(
            [str(VENV_BIN / "sdlite"), "demo", "--data-dir", str(tmp_path / "demo"),
             "--bind", f"127.0.0.1:{port}", "--journalist-bind", f"127.0.0.1:{ombuds_port}",
             "--workers", "1"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(url + "/", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        source = HttpSource(url)
        source.signup()
        assert source.submit("hello from the demo").status_code == 302
        ombuds = _wait_for(f"http://127.0.0.1:{ombuds_port}/login")
        assert ombuds.status_code == 200
        assert "Two-factor code" in ombuds.text
    finally:
        demo.terminate()
        demo.wait(timeout=15)
    banner = log.read_text()
    assert "DEMO" in banner
    assert "Never use this key or these credentials for real submissions" in banner
    airgap = tmp_path / "demo" / "airgap-demo"
    assert (airgap / "README-DEMO-ONLY.txt").exists()
    admin = json.loads((airgap / "demo-admin.json").read_text())
    assert admin["username"] == "demo-admin"
    assert admin["is_admin"] is True
    assert (airgap / "demo-admin.json").stat().st_mode & 0o777 == 0o600
    out_dir = tmp_path / "decrypted"
    (store_dir,) = [
        p for p in (tmp_path / "demo" / "store").iterdir() if not p.name.startswith(".")
    ]
    decrypted = subprocess.run(
        [str(VENV_BIN / "sdlite-airgap"), "decrypt", str(store_dir), "--gnupghome",
         str(airgap / "gnupg"), "--out", str(out_dir), "--no-passphrase"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert decrypted.returncode == 0, decrypted.stdout + decrypted.stderr
    assert decrypted.stdout.startswith("ok ")
    (message,) = out_dir.glob("*/*-msg.txt")
    assert message.read_text() == "hello from the demo"


def test_airgap_decrypt_reports_a_file_for_another_key_and_carries_on(
    tmp_path: Path, ombuds_key: KeyPair
) -> None:
    folder = tmp_path / "download"
    folder.mkdir()
    (folder / "1-brave-otter-msg.gpg").write_bytes(b"\x85\x01\x0c not for this key")
    decrypted = subprocess.run(
        [str(VENV_BIN / "sdlite-airgap"), "decrypt", str(folder), "--gnupghome",
         str(ombuds_key.airgap_home), "--out", str(tmp_path / "out"), "--no-passphrase"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert decrypted.returncode == 1
    assert "failed  1-brave-otter-msg.gpg" in decrypted.stdout
    assert "Traceback" not in decrypted.stderr
