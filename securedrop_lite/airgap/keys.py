"""The ombuds' key pair, made on the air-gapped machine.

Ed25519 for the primary (certifying) key with a Cv25519 encryption subkey, or
RSA-4096 for both where an older OpenPGP tool must read the key.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from securedrop_lite.crypto.gpg import CryptoError, ensure_home, gpg_base_command


def _gpg(home: Path, args: list[str], passphrase: str) -> bytes:
    loopback = ["--pinentry-mode", "loopback", "--passphrase-fd", "0"]
    command = gpg_base_command(home, agent=True) + loopback + args
    done = subprocess.run(
        command, input=passphrase.encode() + b"\n", capture_output=True, check=False
    )
    if done.returncode != 0:
        raise CryptoError(done.stderr.decode("utf-8", "replace").strip() or "gpg failed")
    return done.stdout


# algorithm name -> (primary key, encryption subkey), as gpg's --quick-gen-key names them.
ALGORITHMS = {"ed25519": ("ed25519", "cv25519"), "rsa4096": ("rsa4096", "rsa4096")}


def generate_key(home: Path, name: str, passphrase: str, algorithm: str = "ed25519") -> str:
    """Make a key pair in home and return its fingerprint. An empty passphrase is for demos only."""
    primary, subkey = ALGORITHMS[algorithm]
    ensure_home(home)
    uid = f"{name} (securedrop-lite submission key)"
    status = _gpg(home, ["--status-fd", "1", "--quick-gen-key", uid, primary, "sign", "never"],
                  passphrase).decode()  # fmt: skip
    # The fingerprint comes from gpg's own report of the key it made, never from a
    # search by name, which could find an older key with the same user id.
    created = [line.split()[3] for line in status.splitlines() if " KEY_CREATED " in line]
    if len(created) != 1:
        raise CryptoError("gpg did not report the new key")
    fingerprint = created[0]
    _gpg(home, ["--quick-add-key", fingerprint, subkey, "encr", "never"], passphrase)
    return fingerprint


def export_public_key_bytes(home: Path, fingerprint: str) -> bytes:
    """Return the armored public key, to carry to the server."""
    return _gpg(home, ["--armor", "--export", fingerprint], "")


def export_public_key(home: Path, fingerprint: str, out: Path) -> None:
    out.write_bytes(export_public_key_bytes(home, fingerprint))


def stop_agent(home: Path) -> None:
    """Stop the gpg-agent that secret-key work started for home, so no daemon lingers."""
    gpgconf = shutil.which("gpgconf")
    if gpgconf is not None:
        subprocess.run([gpgconf, "--homedir", str(home), "--kill", "gpg-agent"],
                       capture_output=True, check=False)  # fmt: skip
