"""The ombuds' key pair, made on the air-gapped machine: Ed25519 signing, Cv25519 encryption."""

from __future__ import annotations

import subprocess
from pathlib import Path

from securedrop_lite.crypto.gpg import CryptoError, ensure_home, gpg_base_command


def _gpg(home: Path, args: list[str], passphrase: str) -> bytes:
    command = (
        gpg_base_command(home) + ["--pinentry-mode", "loopback", "--passphrase-fd", "0"] + args
    )
    done = subprocess.run(
        command, input=passphrase.encode() + b"\n", capture_output=True, check=False
    )
    if done.returncode != 0:
        raise CryptoError(done.stderr.decode("utf-8", "replace").strip() or "gpg failed")
    return done.stdout


def generate_key(home: Path, name: str, passphrase: str) -> str:
    """Make a key pair in home and return its fingerprint. An empty passphrase is for demos only."""
    ensure_home(home)
    uid = f"{name} (securedrop-lite submission key)"
    _gpg(home, ["--quick-gen-key", uid, "ed25519", "sign", "never"], passphrase)
    listing = _gpg(home, ["--with-colons", "--list-secret-keys", uid], passphrase).decode()
    fingerprint = next(
        line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr")
    )
    _gpg(home, ["--quick-add-key", fingerprint, "cv25519", "encr", "never"], passphrase)
    return fingerprint


def export_public_key(home: Path, fingerprint: str, out: Path) -> None:
    armored = _gpg(home, ["--armor", "--export", fingerprint], "")
    out.write_bytes(armored)
