"""Decrypt what the ombuds downloaded, writing plaintext only under one output folder."""

from __future__ import annotations

import os
import re
import subprocess
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from securedrop_lite.crypto.gpg import gpg_base_command

_WINDOWS_DEVICES = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)
_MAX_NAME_BYTES = 200


class DecryptFailed(Exception):
    """The file could not be decrypted with the keys at hand."""


@dataclass(frozen=True)
class Decrypted:
    path: Path
    original_name: str


def safe_file_name(name: str, fallback: str) -> str:
    """Return a plain file name: no directories, no control characters, no device names."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip().lstrip(".")
    if not name or _WINDOWS_DEVICES.match(name):
        name = f"_{name}" if name else fallback
    return name.encode("utf-8")[:_MAX_NAME_BYTES].decode("utf-8", "ignore")


def _unused_path(directory: Path, name: str) -> Path:
    candidate = directory / name
    stem, dot, suffix = name.partition(".")
    counter = 2
    while candidate.exists() or candidate.is_symlink():
        candidate = directory / f"{stem} ({counter}){dot}{suffix}"
        counter += 1
    return candidate


def decrypt_file(home: Path, encrypted: Path, out_dir: Path, passphrase: str = "") -> Decrypted:
    """Decrypt one .gpg file into out_dir under its original (sanitized) name; never overwrite."""
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = out_dir / f".{encrypted.name}.partial"
    command = gpg_base_command(home, agent=True) + [
        "--pinentry-mode", "loopback", "--passphrase-fd", "0", "--status-fd", "2",
        "--output", str(partial), "--yes", "--decrypt", str(encrypted),
    ]  # fmt: skip
    done = subprocess.run(
        command, input=passphrase.encode() + b"\n", capture_output=True, check=False
    )
    status = done.stderr.decode("utf-8", "replace")
    if done.returncode != 0 or "[GNUPG:] DECRYPTION_OKAY" not in status:
        partial.unlink(missing_ok=True)
        raise DecryptFailed(f"{encrypted.name}: could not be decrypted with this key")
    match = re.search(r"^\[GNUPG:\] PLAINTEXT \S+ \S+ ?(.*)$", status, re.MULTILINE)
    original = unquote(match.group(1)) if match else ""
    fallback = encrypted.name.removesuffix(".gpg")
    if encrypted.name.endswith("-msg.gpg") or encrypted.name.endswith("-reply.gpg"):
        name = fallback + ".txt"
    else:
        name = safe_file_name(original, fallback)
    target = _unused_path(out_dir, name)
    os.replace(partial, target)
    return Decrypted(target, original)
