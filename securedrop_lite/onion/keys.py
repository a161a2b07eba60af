"""Onion service keys in tor's own HiddenServiceDir format, and x25519 client keys.

A service directory holds `hs_ed25519_secret_key`, `hs_ed25519_public_key` and
`hostname` exactly as tor writes them, so an admin can move it into a torrc
`HiddenServiceDir` and keep the address. The address is computed here from the public
key (rend-spec-v3 "ENCODING ONION ADDRESSES"), so the apps know their own address
without asking tor.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

SECRET_KEY_FILE = "hs_ed25519_secret_key"  # noqa: S105  # nosec B105 # a file name
PUBLIC_KEY_FILE = "hs_ed25519_public_key"
HOSTNAME_FILE = "hostname"
# tor's key file headers: 29 ASCII bytes and three NULs, then the key.
_SECRET_HEADER = b"== ed25519v1-secret: type0 ==\x00\x00\x00"
_PUBLIC_HEADER = b"== ed25519v1-public: type0 ==\x00\x00\x00"
_VERSION = b"\x03"
SERVICE_ID = re.compile(r"[a-z2-7]{55}d")
# A base32 x25519 key without padding: 32 bytes are 52 characters.
CLIENT_KEY = re.compile(r"[A-Z2-7]{52}")


class OnionKeyError(Exception):
    """A key file is missing, malformed, or does not match its public key."""


def service_id(public_key: bytes) -> str:
    """Return the 56-character v3 service id of an Ed25519 public key."""
    if len(public_key) != 32:
        raise OnionKeyError("an Ed25519 public key is 32 bytes")
    checksum = hashlib.sha3_256(b".onion checksum" + public_key + _VERSION).digest()[:2]
    return base64.b32encode(public_key + checksum + _VERSION).decode("ascii").lower()


def _expand(seed: bytes) -> bytes:
    """Return tor's 64-byte expanded secret key for an Ed25519 seed (RFC 8032 5.1.5)."""
    digest = bytearray(hashlib.sha512(seed).digest())
    digest[0] &= 248
    digest[31] &= 63
    digest[31] |= 64
    return bytes(digest)


def _write_private(path: Path, data: bytes) -> None:
    """Write a new file readable by the owner only, refusing to replace or follow anything."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def replace_private(path: Path, data: bytes) -> None:
    """Replace path at once with a file readable by the owner only, written beside it."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)  # left by an interrupted run
    _write_private(temporary, data)
    os.replace(temporary, path)


def _read_private(path: Path, header: bytes, length: int) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise OnionKeyError(f"cannot read {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as f:
        if os.fstat(f.fileno()).st_mode & 0o077:
            raise OnionKeyError(f"{path} is readable by others: chmod 600 it")
        data = f.read(len(header) + length + 1)
    if len(data) != len(header) + length or not data.startswith(header):
        raise OnionKeyError(f"{path} is not a tor v3 key file")
    return data[len(header) :]


def _read_public(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise OnionKeyError(f"cannot read {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as f:
        data = f.read(len(_PUBLIC_HEADER) + 33)
    if len(data) != len(_PUBLIC_HEADER) + 32 or not data.startswith(_PUBLIC_HEADER):
        raise OnionKeyError(f"{path} is not a tor v3 public key file")
    return data[len(_PUBLIC_HEADER) :]


@dataclass(frozen=True)
class ServiceKey:
    """The key of one v3 onion service, kept in a tor HiddenServiceDir layout."""

    directory: Path
    public_key: bytes
    expanded_secret: bytes

    @property
    def service_id(self) -> str:
        return service_id(self.public_key)

    @property
    def address(self) -> str:
        return self.service_id + ".onion"

    def add_onion_key(self) -> str:
        """Return the key argument of tor's ADD_ONION command."""
        return "ED25519-V3:" + base64.b64encode(self.expanded_secret).decode("ascii")

    @classmethod
    def load(cls, directory: Path) -> ServiceKey:
        secret = _read_private(directory / SECRET_KEY_FILE, _SECRET_HEADER, 64)
        public = _read_private(directory / PUBLIC_KEY_FILE, _PUBLIC_HEADER, 32)
        key = cls(directory, public, secret)
        hostname = directory / HOSTNAME_FILE
        if hostname.exists() and hostname.read_text().strip() != key.address:
            raise OnionKeyError(f"{hostname} does not match {PUBLIC_KEY_FILE}")
        return key

    @classmethod
    def load_or_create(cls, directory: Path) -> ServiceKey:
        """Load the key in directory, or make one there (mode 0600, folder 0700)."""
        if (directory / SECRET_KEY_FILE).exists():
            return cls.load(directory)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
        private = Ed25519PrivateKey.generate()
        seed = private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        public = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        key = cls(directory, public, _expand(seed))
        # The secret goes last: its presence is what marks the directory as complete.
        _write_private(directory / PUBLIC_KEY_FILE, _PUBLIC_HEADER + public)
        _write_private(directory / HOSTNAME_FILE, (key.address + "\n").encode("ascii"))
        _write_private(directory / SECRET_KEY_FILE, _SECRET_HEADER + key.expanded_secret)
        return key


def read_address(directory: Path) -> str | None:
    """Return the address of the service key in directory, or None if there is none yet.

    Reads only the public key and the hostname: the apps call this, and the systemd
    units keep the secret keys out of the source app's reach.
    """
    try:
        public = _read_public(directory / PUBLIC_KEY_FILE)
        address = service_id(public) + ".onion"
        hostname = (directory / HOSTNAME_FILE).read_text().strip()
    except (OnionKeyError, OSError):
        return None
    return address if hostname == address else None


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").rstrip("=")


@dataclass(frozen=True)
class ClientKeyPair:
    """One ombuds user's x25519 client-authorization key pair, base32 without padding."""

    public: str
    private: str

    @classmethod
    def generate(cls) -> ClientKeyPair:
        private = X25519PrivateKey.generate()
        raw_private = private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        raw_public = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return cls(_b32(raw_public), _b32(raw_private))


def auth_private_line(address: str, private_key: str) -> str:
    """Return the line of a client's `ClientOnionAuthDir/<name>.auth_private` file."""
    return f"{address.removesuffix('.onion')}:descriptor:x25519:{private_key}"


def authorized_client_line(public_key: str) -> str:
    """Return the line of a service's `authorized_clients/<name>.auth` file."""
    if not CLIENT_KEY.fullmatch(public_key):
        raise OnionKeyError("not a base32 x25519 public key")
    return f"descriptor:x25519:{public_key}"
