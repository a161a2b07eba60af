"""The ombuds' key pair, made on the air-gapped machine.

Ed25519 for the primary (certifying) key with a Cv25519 encryption subkey, or
RSA-4096 for both where an older OpenPGP tool must read the key.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from securedrop_lite.crypto.gpg import (
    GPG_TIMEOUT_SECONDS,
    CryptoError,
    ensure_home,
    gpg_base_command,
)


def run_gpg(home: Path, args: list[str], passphrase: str | None = None, data: bytes = b"") -> bytes:
    """Run gpg on the air-gapped home (the agent may start); return stdout or raise CryptoError.

    With a passphrase, it goes to gpg on stdin through loopback pinentry, never in argv.
    """
    command = gpg_base_command(home, agent=True)
    if passphrase is not None:
        command += ["--pinentry-mode", "loopback", "--passphrase-fd", "0"]
        data = passphrase.encode() + b"\n"
    try:
        done = subprocess.run(command + args, input=data, capture_output=True, check=False,
                              timeout=GPG_TIMEOUT_SECONDS)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CryptoError(f"gpg did not run: {exc}") from exc
    if done.returncode != 0:
        raise CryptoError(done.stderr.decode("utf-8", "replace").strip() or "gpg failed")
    return done.stdout


@dataclass(frozen=True)
class SecretKey:
    """The ombuds' submission key in the air-gapped GnuPG home."""

    home: Path
    fingerprint: str
    key_ids: frozenset[str]  # long ids of the key and its subkeys, as ENC_TO names them


def secret_keys(home: Path) -> list[SecretKey]:
    """Return every secret key in home; none for a home that does not exist yet."""
    if not home.is_dir():
        return []
    listing = run_gpg(home, ["--with-colons", "--list-secret-keys"]).decode("utf-8", "replace")
    records = [line.split(":") for line in listing.splitlines()]
    keys: dict[str, set[str]] = {}  # primary fingerprint -> long ids of it and its subkeys
    ids: set[str] = set()
    for record, following in itertools.pairwise(records):
        if record[0] == "sec" and following[0] == "fpr":
            ids = keys.setdefault(following[9], set())
        if record[0] in {"sec", "ssb"} and len(record) > 4:
            ids.add(record[4])
    return [SecretKey(home, fpr, frozenset(key_ids)) for fpr, key_ids in keys.items()]


def find_secret_key(home: Path, fingerprint: str | None = None) -> SecretKey:
    """Return the one secret key in home (or the one named), refusing any ambiguity."""
    found = {key.fingerprint: key for key in secret_keys(home)}
    if fingerprint is not None:
        wanted = fingerprint.replace(" ", "").upper()
        if wanted not in found:
            raise CryptoError(f"no secret key {wanted} in {home}")
        return found[wanted]
    if len(found) != 1:
        what = "no secret key" if not found else f"{len(found)} secret keys"
        raise CryptoError(f"{home} holds {what}; name the submission key with --key")
    return next(iter(found.values()))


# algorithm name -> (primary key, encryption subkey), as gpg's --quick-gen-key names them.
ALGORITHMS = {"ed25519": ("ed25519", "cv25519"), "rsa4096": ("rsa4096", "rsa4096")}


def generate_key(home: Path, name: str, passphrase: str, algorithm: str = "ed25519") -> str:
    """Make a key pair in home and return its fingerprint. An empty passphrase is for demos only."""
    primary, subkey = ALGORITHMS[algorithm]
    ensure_home(home)
    uid = f"{name} (securedrop-lite submission key)"
    status = run_gpg(home, ["--status-fd", "1", "--quick-gen-key", uid, primary, "sign", "never"],
                     passphrase).decode()  # fmt: skip
    # The fingerprint comes from gpg's own report of the key it made, never from a
    # search by name, which could find an older key with the same user id.
    created = [line.split()[3] for line in status.splitlines() if " KEY_CREATED " in line]
    if len(created) != 1:
        raise CryptoError("gpg did not report the new key")
    fingerprint = created[0]
    run_gpg(home, ["--quick-add-key", fingerprint, subkey, "encr", "never"], passphrase)
    return fingerprint


def export_public_key_bytes(home: Path, fingerprint: str) -> bytes:
    """Return the armored public key, to carry to the server."""
    return run_gpg(home, ["--armor", "--export", fingerprint])


def export_public_key(home: Path, fingerprint: str, out: Path) -> None:
    out.write_bytes(export_public_key_bytes(home, fingerprint))


def stop_agent(home: Path) -> None:
    """Stop the gpg-agent that secret-key work started for home, so no daemon lingers."""
    gpgconf = shutil.which("gpgconf")
    if gpgconf is not None:
        subprocess.run([gpgconf, "--homedir", str(home), "--kill", "gpg-agent"],
                       capture_output=True, check=False)  # fmt: skip
