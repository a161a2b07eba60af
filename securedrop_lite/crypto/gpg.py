"""OpenPGP encryption to the ombuds' public key, through the gpg binary.

gpg is driven directly (not through python-gnupg) so that a submission can be
streamed into its stdin while the request body is still arriving, and its
binary output written straight to an unnamed file in the store.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

GPG_TIMEOUT_SECONDS = 60
PIPE_BYTES = 1024 * 1024
# RFC 4880 algorithm ids, and the curves we accept for ECDH encryption subkeys.
_RSA = {"1", "2"}
_ECDH = "18"
_STRONG_CURVES = {"cv25519", "ed25519", "nistp384", "nistp521", "brainpoolP384r1"}
_MIN_RSA_BITS = 3072
_MAX_LITERAL_NAME_BYTES = 255  # the OpenPGP literal packet's file-name field
# The server's keyring is written only by `sdlite init`. Reading it without gpg's dotlock
# files keeps the GnuPG home's mtime from recording when the last source wrote (P4).
READ_ONLY = ["--lock-never"]


class CryptoError(Exception):
    """GnuPG is missing or failed."""


class GpgMissing(CryptoError):
    """The gpg binary is not installed."""


class KeyUnusableError(CryptoError):
    """The submission key is missing, expired, revoked, weak or cannot encrypt."""


class EncryptionError(CryptoError):
    """gpg failed while encrypting."""


@dataclass(frozen=True)
class KeyInfo:
    """What the server knows of the ombuds key, from gpg's colon listing."""

    fingerprint: str
    algorithm: str
    expires: datetime | None
    encryption_subkey: str


def _gpg_binary() -> str:
    found = shutil.which("gpg")
    if found is None:
        raise GpgMissing("gpg is not installed (Debian package gnupg)")
    return found


def gpg_base_command(home: Path, agent: bool = False) -> list[str]:
    """Return gpg's fixed arguments; only secret-key work (air gap) may start an agent.

    --no-random-seed-file: gpg would otherwise rewrite gnupg/random_seed at every
    encryption, and its mtime would record when the last source wrote (P4).
    """
    return [
        _gpg_binary(),
        "--homedir",
        str(home),
        "--batch",
        "--no-tty",
        "--quiet",
        "--no-random-seed-file",
        "--no-auto-key-retrieve",
        "--no-auto-key-locate",
        "--trust-model",
        "always",
        *([] if agent else ["--no-autostart"]),
    ]


def _run(home: Path, args: list[str], data: bytes = b"") -> bytes:
    try:
        done = subprocess.run(
            gpg_base_command(home) + args,
            input=data,
            capture_output=True,
            timeout=GPG_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CryptoError(f"gpg did not run: {exc}") from exc
    if done.returncode != 0:
        raise CryptoError(done.stderr.decode("utf-8", "replace").strip() or "gpg failed")
    return done.stdout


def ensure_home(home: Path) -> None:
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(home, 0o700)


def import_public_key(home: Path, armored: bytes) -> str:
    """Import one public key into home and return its fingerprint. Refuses secret keys."""
    if b"PRIVATE KEY BLOCK" in armored:
        raise KeyUnusableError("this is a private key: only the public key belongs on the server")
    ensure_home(home)
    try:
        status = _run(
            home, ["--status-fd", "1", "--import-options", "import-minimal", "--import"], armored
        )
    except GpgMissing:
        raise
    except CryptoError as exc:
        raise KeyUnusableError(f"the file holds no OpenPGP public key ({exc})") from exc
    fingerprints = {
        line.split()[3]
        for line in status.decode("utf-8", "replace").splitlines()
        if line.startswith("[GNUPG:] IMPORT_OK ")
    }
    if len(fingerprints) != 1:
        raise KeyUnusableError(f"expected exactly one public key, found {len(fingerprints)}")
    return fingerprints.pop()


def _parse_expiry(field: str) -> datetime | None:
    return datetime.fromtimestamp(int(field), UTC) if field else None


def _describe(record: list[str]) -> str:
    algorithm, bits, curve = record[3], record[2], record[16] if len(record) > 16 else ""
    return f"algo {algorithm} {curve or bits + ' bits'}"


def _is_strong(record: list[str]) -> bool:
    algorithm, bits = record[3], int(record[2] or 0)
    curve = record[16] if len(record) > 16 else ""
    if algorithm in _RSA:
        return bits >= _MIN_RSA_BITS
    return algorithm == _ECDH and curve in _STRONG_CURVES


def _usable_at(record: list[str], now: datetime) -> bool:
    expires = _parse_expiry(record[6])
    return record[1] not in {"r", "i", "d", "n"} and (expires is None or expires > now)


def inspect_key(home: Path, fingerprint: str, now: datetime) -> KeyInfo:
    """Return the key's details, or raise KeyUnusableError saying what is wrong with it."""
    try:
        listing = _run(
            home, READ_ONLY + ["--with-colons", "--fixed-list-mode", "--list-keys", fingerprint]
        )
    except GpgMissing as exc:
        raise KeyUnusableError(str(exc)) from exc
    except CryptoError as exc:
        raise KeyUnusableError(f"the submission key {fingerprint} is not in {home}") from exc
    records = [line.split(":") for line in listing.decode("utf-8", "replace").splitlines()]
    primary = next((r for r in records if r[0] == "pub"), None)
    if primary is None:
        raise KeyUnusableError(f"the submission key {fingerprint} is not in {home}")
    if not _usable_at(primary, now):
        raise KeyUnusableError("the submission key is expired, revoked or invalid")
    candidates = [r for r in records if r[0] in ("pub", "sub") and "e" in r[11]]
    if not candidates:
        raise KeyUnusableError("the submission key has no encryption-capable key")
    usable = [r for r in candidates if _usable_at(r, now)]
    if not usable:
        raise KeyUnusableError("every encryption subkey of the submission key has expired")
    strong = [r for r in usable if _is_strong(r)]
    if not strong:
        kinds = ", ".join(_describe(r) for r in usable)
        raise KeyUnusableError(
            f"the submission key's encryption keys are too weak ({kinds}): use Curve25519 "
            f"or RSA of at least {_MIN_RSA_BITS} bits"
        )
    return KeyInfo(
        fingerprint=fingerprint,
        algorithm=_describe(strong[0]),
        expires=_parse_expiry(primary[6]),
        encryption_subkey=strong[0][4],
    )


def literal_file_name(name: str) -> str:
    """Return name fit for the OpenPGP literal packet: no control characters, <= 255 bytes."""
    cleaned = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    encoded = cleaned.encode("utf-8")[:_MAX_LITERAL_NAME_BYTES]
    return encoded.decode("utf-8", "ignore") or "upload"


class GpgStream:
    """One gpg process encrypting whatever is written to it into out_file."""

    def __init__(self, args: list[str], out_file: IO[bytes]) -> None:
        try:
            self._proc = subprocess.Popen(
                args, stdin=subprocess.PIPE, stdout=out_file, stderr=subprocess.PIPE
            )
        except OSError as exc:
            raise EncryptionError(f"gpg did not start: {exc}") from exc
        # A 1 MiB pipe (Linux's default maximum) lets the request thread and gpg work at
        # the same time instead of taking turns over a 64 KiB one.
        with contextlib.suppress(OSError, AttributeError):
            fcntl.fcntl(self._proc.stdin.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)  # type: ignore[union-attr]
        self.bytes_in = 0

    def write(self, data: bytes) -> int:
        try:
            self._proc.stdin.write(data)  # type: ignore[union-attr]
        except (BrokenPipeError, ValueError) as exc:
            self.abort()
            raise EncryptionError("gpg stopped while encrypting") from exc
        self.bytes_in += len(data)
        return len(data)

    def finish(self) -> None:
        """Close the input and wait for gpg; raise EncryptionError unless it succeeded."""
        try:
            _, stderr = self._proc.communicate(timeout=GPG_TIMEOUT_SECONDS)
        except (subprocess.TimeoutExpired, BrokenPipeError) as exc:
            self.abort()
            raise EncryptionError("gpg did not finish") from exc
        if self._proc.returncode != 0:
            raise EncryptionError(stderr.decode("utf-8", "replace").strip() or "gpg failed")

    def abort(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        for pipe in (self._proc.stdin, self._proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):  # unflushed input to a killed gpg
                    pipe.close()


class SubmissionKey:
    """The ombuds' public key in the server's GnuPG home; everything sources send goes to it."""

    def __init__(self, home: Path, fingerprint: str) -> None:
        if not home.is_absolute():
            raise ValueError("the GnuPG home must be an absolute path")
        if len(fingerprint) != 40:
            raise ValueError("a fingerprint has 40 hex digits")
        self.home = home
        self.fingerprint = fingerprint.upper()

    def check(self, now: datetime) -> KeyInfo:
        """Return the key's details if it can encrypt now, else raise KeyUnusableError."""
        if not self.home.is_dir():
            raise KeyUnusableError(f"the GnuPG home {self.home} does not exist")
        info = inspect_key(self.home, self.fingerprint, now)
        if self.has_secret_keys():
            raise KeyUnusableError(
                f"the server's GnuPG home {self.home} holds a private key: the private key "
                "belongs only on the air-gapped machine; remove it and rotate the key"
            )
        return info

    def has_secret_keys(self) -> bool:
        """Whether any private key material is in the home (gpg >= 2.1 keeps it in files)."""
        private = self.home / "private-keys-v1.d"
        has_private_dir = private.is_dir() and any(private.iterdir())
        return has_private_dir or (self.home / "secring.gpg").exists()

    def armored(self) -> str:
        return _run(self.home, READ_ONLY + ["--armor", "--export", self.fingerprint]).decode(
            "ascii"
        )

    def _encrypt_args(self, file_name: str) -> list[str]:
        # No compression: most uploads (JPEG, PDF, DOCX, video) are compressed already,
        # and it keeps the hot path to one pass of symmetric encryption.
        return (
            gpg_base_command(self.home)
            + READ_ONLY
            + [
                "--encrypt",
                "--recipient",
                self.fingerprint,
                "--compress-algo",
                "none",
                "--set-filename",
                literal_file_name(file_name),
                "--output",
                "-",
            ]
        )

    def stream(self, out_file: IO[bytes], file_name: str) -> GpgStream:
        """Start encrypting to out_file; the original file name goes inside the ciphertext."""
        return GpgStream(self._encrypt_args(file_name), out_file)

    def encrypt(self, data: bytes, out_file: IO[bytes], file_name: str) -> None:
        stream = self.stream(out_file, file_name)
        stream.write(data)
        stream.finish()
