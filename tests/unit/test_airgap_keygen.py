"""sdlite-airgap keygen: a passphrase-protected modern key that `sdlite init` accepts."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from securedrop_lite.airgap.cli import main
from securedrop_lite.airgap.keys import stop_agent
from securedrop_lite.config import config_path, load_config
from tests.conftest import VENV_BIN

PASSPHRASE = "orbit canvas lantern meadow"


def keygen(tmp_path: Path, passphrase: str, *extra: str) -> tuple[int, Path, Path]:
    home, public = tmp_path / "airgap-gnupg", tmp_path / "ombuds.asc"
    read_end, write_end = os.pipe()
    os.write(write_end, passphrase.encode() + b"\n")
    os.close(write_end)
    try:
        status = main(["keygen", "--gnupghome", str(home), "--name", "Film Ombuds",
                       "--public-out", str(public), "--passphrase-fd", str(read_end),
                       *extra])  # fmt: skip
    finally:
        os.close(read_end)
        stop_agent(home)
    return status, home, public


def printed_fingerprint(output: str) -> str:
    match = re.search(r"out of band with what the server shows: ([0-9A-F ]+)$", output, re.M)
    assert match is not None, output
    return match.group(1).replace(" ", "")


def gpg_listing(home: Path) -> str:
    done = subprocess.run(["gpg", "--homedir", str(home), "--with-colons", "--list-secret-keys"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return done.stdout


@pytest.mark.parametrize(
    ("algorithm", "primary", "subkey"),
    [("ed25519", ":22:", ":18:"), ("rsa4096", ":1:", ":1:")],
)
def test_keygen_makes_a_key_that_sdlite_init_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], algorithm: str, primary: str, subkey: str
) -> None:
    status, home, public = keygen(tmp_path, PASSPHRASE, "--algorithm", algorithm)
    assert status == 0
    fingerprint = printed_fingerprint(capsys.readouterr().out)
    assert public.read_text().startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    listing = gpg_listing(home)
    stop_agent(home)
    sec = next(line for line in listing.splitlines() if line.startswith("sec:"))
    ssb = next(line for line in listing.splitlines() if line.startswith("ssb:"))
    assert primary in sec
    assert subkey in ssb
    assert ":e:" in ssb
    if algorithm == "rsa4096":
        assert sec.split(":")[2] == "4096"
    data_dir = tmp_path / "server"
    init = subprocess.run(
        [str(VENV_BIN / "sdlite"), "init", "--data-dir", str(data_dir),
         "--submission-key", str(public)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert init.returncode == 0, init.stderr
    assert load_config(os.environ, config_path(data_dir)).submission_key_fingerprint == fingerprint
    assert list((data_dir / "gnupg").glob("private-keys-v1.d/*")) == []


def test_the_new_secret_key_is_passphrase_protected(tmp_path: Path) -> None:
    status, home, _ = keygen(tmp_path, PASSPHRASE)
    assert status == 0
    exported = subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--pinentry-mode", "loopback",
         "--passphrase", "", "--export-secret-keys"],
        capture_output=True, check=False,
    )  # fmt: skip
    stop_agent(home)
    assert exported.returncode != 0
    assert exported.stdout == b""


def test_keygen_refuses_a_short_passphrase_and_makes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, home, public = keygen(tmp_path, "short")
    assert status == 2
    assert "at least 12 characters" in capsys.readouterr().err
    assert not public.exists()
    assert not (home / "private-keys-v1.d").exists()


def test_keygen_never_overwrites_a_public_key_file_or_adds_a_second_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert keygen(tmp_path, PASSPHRASE)[0] == 0
    capsys.readouterr()
    public = tmp_path / "ombuds.asc"
    original = public.read_bytes()
    status, _, _ = keygen(tmp_path, PASSPHRASE)
    assert status == 2
    assert "exists" in capsys.readouterr().err
    assert public.read_bytes() == original
    public.unlink()
    status, home, _ = keygen(tmp_path, PASSPHRASE)
    assert status == 2
    assert "already holds a secret key" in capsys.readouterr().err
    assert sum(line.startswith("sec:") for line in gpg_listing(home).splitlines()) == 1
    stop_agent(home)


def test_keygen_never_follows_a_dangling_symlink_for_the_public_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = tmp_path / "elsewhere" / "planted.asc"
    victim.parent.mkdir()
    (tmp_path / "ombuds.asc").symlink_to(victim)
    status, _, _ = keygen(tmp_path, PASSPHRASE)
    assert status == 2
    assert not victim.exists()


def test_keygen_with_an_unwritable_public_key_path_makes_no_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "g"
    read_end, write_end = os.pipe()
    os.write(write_end, PASSPHRASE.encode() + b"\n")
    os.close(write_end)
    status = main(["keygen", "--gnupghome", str(home), "--public-out",
                   str(tmp_path / "missing" / "dir" / "pub.asc"), "--passphrase-fd",
                   str(read_end)])  # fmt: skip
    os.close(read_end)
    stop_agent(home)
    assert status == 2
    assert "cannot write" in capsys.readouterr().err
    assert list(home.glob("private-keys-v1.d/*")) == []


def test_a_bad_passphrase_descriptor_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["keygen", "--gnupghome", str(tmp_path / "g"), "--public-out",
                   str(tmp_path / "pub.asc"), "--passphrase-fd", "987"])  # fmt: skip
    assert status == 2
    assert "could not read a passphrase from descriptor 987" in capsys.readouterr().err
