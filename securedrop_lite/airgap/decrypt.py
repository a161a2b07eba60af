"""Decrypt what the ombuds downloaded, writing plaintext only under one output folder.

Every output path is opened relative to a directory descriptor with O_NOFOLLOW,
so a symbolic link planted under --out cannot redirect a write; names come from
the sanitizer below, never from the zip or the ciphertext as they are; and a
file is created with O_EXCL, so nothing is ever overwritten.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import secrets
import stat
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import unquote

from securedrop_lite.airgap.inputs import TEXT_KINDS, UNREADABLE, Sealed, sealed_from_name
from securedrop_lite.airgap.keys import SecretKey, find_secret_key, run_gpg
from securedrop_lite.airgap.names import numbered_names, safe_file_name
from securedrop_lite.crypto.gpg import CryptoError, gpg_base_command

CHUNK_BYTES = 1024 * 1024
# The largest upload the server accepts is 2 GiB; a compressed packet claiming more
# than this is a decompression bomb, and gpg stops writing there.
DEFAULT_MAX_BYTES = 4 * 1024**3


class DecryptFailed(Exception):
    """This item could not be decrypted with the submission key, or not written."""


class WrongPassphrase(CryptoError):
    """The passphrase does not unlock the submission key."""


@dataclass(frozen=True)
class Decrypted:
    path: Path
    original_name: str


def _status_reader(stream: IO[bytes], lines: list[str]) -> threading.Thread:
    def read() -> None:
        lines.extend(stream.read().decode("utf-8", "replace").splitlines())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def _file_descriptor(sealed: IO[bytes]) -> int | None:
    """Return sealed's descriptor if it is a plain file gpg can read itself, else None."""
    try:
        fd = sealed.fileno()
    except (OSError, AttributeError, io.UnsupportedOperation):
        return None  # a zip member: it must be copied through a pipe
    return fd if stat.S_ISREG(os.fstat(fd).st_mode) else None


def _feed(proc: subprocess.Popen[bytes], sealed: IO[bytes]) -> None:
    """Copy sealed into gpg's stdin through a 1 MiB pipe (a 64 KiB one costs 20% here)."""
    stdin = proc.stdin
    if stdin is None:  # Popen was given stdin=PIPE: never, unless that changes
        raise RuntimeError("gpg was started without a pipe to its input")
    with contextlib.suppress(OSError):
        fcntl.fcntl(stdin.fileno(), fcntl.F_SETPIPE_SZ, CHUNK_BYTES)
    try:
        while chunk := sealed.read(CHUNK_BYTES):
            stdin.write(chunk)
        stdin.close()
    except BrokenPipeError:
        pass  # gpg stopped reading: its status says why


def _run_gpg(key: SecretKey, sealed: IO[bytes], out_fd: int, passphrase: str,
             max_bytes: int) -> list[str]:  # fmt: skip
    """Stream sealed through gpg into out_fd; return gpg's status lines."""
    pass_read, pass_write = os.pipe()
    os.write(pass_write, passphrase.encode() + b"\n")
    os.close(pass_write)
    command = gpg_base_command(key.home, agent=True) + [
        "--pinentry-mode", "loopback", "--passphrase-fd", str(pass_read),
        "--status-fd", "2", "--max-output", str(max_bytes), "--skip-verify",
        "--output", "-", "--decrypt", "-",
    ]  # fmt: skip
    # A file already opened (with O_NOFOLLOW) becomes gpg's stdin as it is, with no
    # copy through this process; a zip member is fed through a pipe.
    direct = _file_descriptor(sealed)
    try:
        stdin = subprocess.PIPE if direct is None else direct
        proc = subprocess.Popen(command, stdin=stdin, stdout=out_fd, stderr=subprocess.PIPE,
                                pass_fds=(pass_read,))  # fmt: skip
    except OSError as exc:
        raise CryptoError(f"gpg did not start: {exc}") from exc
    finally:
        os.close(pass_read)
    status: list[str] = []
    with proc:  # closes the pipes and waits for gpg, however this block ends
        reader = _status_reader(proc.stderr, status)  # type: ignore[arg-type]
        try:
            if direct is None:
                _feed(proc, sealed)
        except BaseException:
            proc.kill()
            raise
        finally:
            proc.wait()
            reader.join()
    return status if proc.returncode == 0 else status + ["[GNUPG:] SDLITE_GPG_FAILED"]


def _status_fields(status: list[str]) -> list[list[str]]:
    # Split on the ASCII space only: gpg does not escape other Unicode spaces in a file name.
    return [line.split(" ", 4)[1:] for line in status if line.startswith("[GNUPG:] ")]


def _check_status(status: list[str], key: SecretKey) -> str:
    """Return the literal file name if gpg decrypted with the submission key, intact."""
    fields = _status_fields(status)
    codes = {f[0] for f in fields if f}
    used = [f[2] for f in fields if f[0] == "DECRYPTION_KEY" and len(f) > 2]
    recipients = {f[1] for f in fields if f[0] == "ENC_TO" and len(f) > 1}
    if used != [key.fingerprint]:
        if len(used) > 1:
            raise DecryptFailed("more than one message in one file: refused")
        if recipients & key.key_ids:
            # The passphrase was checked before the run, so the item itself is damaged.
            raise DecryptFailed("encrypted to the submission key, but damaged")
        if "NEED_PASSPHRASE_SYM" in codes:
            raise DecryptFailed("encrypted with a password, not to the submission key: refused")
        if "ENC_TO" in codes:
            raise DecryptFailed("encrypted to another key, not the submission key: refused")
        raise DecryptFailed("not an OpenPGP message encrypted to the submission key: refused")
    if "SDLITE_GPG_FAILED" in codes or "DECRYPTION_OKAY" not in codes:
        raise DecryptFailed("could not be decrypted (damaged, or larger than --max-size)")
    if "GOODMDC" not in codes:
        raise DecryptFailed("no integrity check: it may have been altered, refused")
    names = [f[3] for f in fields if f[0] == "PLAINTEXT" and len(f) > 3]
    return unquote(names[0]) if names else ""


def check_passphrase(key: SecretKey, passphrase: str) -> None:
    """Raise WrongPassphrase unless passphrase unlocks key, tried on a probe encrypted to it.

    Checking once, before any item, means a damaged item is never mistaken for a
    wrong passphrase, and a wrong passphrase stops the run before anything is written.
    """
    encrypt = ["--encrypt", "--recipient", key.fingerprint, "--output", "-"]
    probe = run_gpg(key.home, encrypt, data=b"probe")
    sink = os.open(os.devnull, os.O_WRONLY)
    try:
        status = _run_gpg(key, io.BytesIO(probe), sink, passphrase, 1024)
    finally:
        os.close(sink)
    fields = _status_fields(status)
    used = [f[2] for f in fields if f[0] == "DECRYPTION_KEY" and len(f) > 2]
    if used != [key.fingerprint] or "SDLITE_GPG_FAILED" in {f[0] for f in fields}:
        raise WrongPassphrase("the passphrase does not unlock the submission key")


def _folder_fd(out_fd: int, folder: str) -> int:
    with contextlib.suppress(FileExistsError):
        os.mkdir(folder, 0o700, dir_fd=out_fd)
    try:
        return os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=out_fd)
    except OSError as exc:
        raise DecryptFailed(f"the output folder {folder} is not a plain folder") from exc


def _claim_name(folder_fd: int, name: str) -> str:
    """Create an empty file under the first free variant of name; never overwrite."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    for candidate in numbered_names(name):
        try:
            os.close(os.open(candidate, flags, 0o600, dir_fd=folder_fd))
            return candidate
        except FileExistsError:
            continue
    raise DecryptFailed(f"too many files named {name} already")


def _output_name(sealed: Sealed, literal_name: str) -> str:
    if sealed.kind in TEXT_KINDS:
        return sealed.stem + ".txt"  # the stem matched the server's strict item pattern
    # The stem of an item not named by the server is as untrusted as the literal name.
    return safe_file_name(literal_name, safe_file_name(sealed.stem, "item"))


def decrypt_sealed(key: SecretKey, sealed: Sealed, out_dir: Path, passphrase: str = "",  # nosec B107
                   max_bytes: int = DEFAULT_MAX_BYTES) -> Decrypted:  # fmt: skip
    """Decrypt one item into out_dir/<source folder>/ under its sanitized original name."""
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    out_fd = os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        folder_fd = _folder_fd(out_fd, sealed.folder)
    finally:
        os.close(out_fd)
    partial = f".sdlite-partial-{secrets.token_hex(8)}"
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        plain_fd = os.open(partial, flags, 0o600, dir_fd=folder_fd)
        try:
            with sealed.open() as stream:
                status = _run_gpg(key, stream, plain_fd, passphrase, max_bytes)
            literal_name = _check_status(status, key)
            os.fsync(plain_fd)
        finally:
            os.close(plain_fd)
        name = _claim_name(folder_fd, _output_name(sealed, literal_name))
        os.replace(partial, name, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
        os.fsync(folder_fd)
    except UNREADABLE as exc:
        raise DecryptFailed(f"could not be read or written: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial, dir_fd=folder_fd)
        os.close(folder_fd)
    return Decrypted(out_dir / sealed.folder / name, literal_name)


def decrypt_file(
    home: Path,
    encrypted: Path,
    out_dir: Path,
    passphrase: str = "",  # nosec B107 # empty: a key without a passphrase
) -> Decrypted:
    """Decrypt one .gpg file with the only secret key in home (used by tests and the demo)."""
    sealed = sealed_from_name(encrypted.name, encrypted.name, lambda: encrypted.open("rb"))
    return decrypt_sealed(find_secret_key(home), sealed, out_dir, passphrase)
