"""Sealed boxes to a source's X25519 key: ephemeral X25519, HKDF-SHA256, ChaCha20-Poly1305."""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"SDLR1"
_INFO = b"securedrop-lite source box v1"
_NONCE_BYTES = 12
_KEY_BYTES = 32


class DecryptionError(Exception):
    """A box could not be opened. Deliberately says nothing about why."""


def _box_key(shared: bytes, ephemeral_public: bytes, recipient_public: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=_KEY_BYTES,
        salt=ephemeral_public + recipient_public,
        info=_INFO,
    ).derive(shared)


class SourceKeyPair:
    """The X25519 key pair derived from a source's codename; it exists only in memory."""

    def __init__(self, seed: bytes) -> None:
        if len(seed) != _KEY_BYTES:
            raise ValueError("a source key seed is 32 bytes")
        self._private = X25519PrivateKey.from_private_bytes(seed)
        self.public_bytes = self._private.public_key().public_bytes_raw()

    def open(self, box: bytes) -> bytes:
        """Return the plaintext of a box sealed to this key, or raise DecryptionError."""
        header = len(MAGIC) + _KEY_BYTES + _NONCE_BYTES
        if len(box) < header + 16 or not box.startswith(MAGIC):
            raise DecryptionError
        ephemeral_public = box[len(MAGIC) : len(MAGIC) + _KEY_BYTES]
        nonce = box[len(MAGIC) + _KEY_BYTES : header]
        try:
            shared = self._private.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
            key = _box_key(shared, ephemeral_public, self.public_bytes)
            return ChaCha20Poly1305(key).decrypt(nonce, box[header:], MAGIC)
        except (InvalidTag, ValueError) as exc:
            raise DecryptionError from exc


def seal_to_source(recipient_public: bytes, plaintext: bytes) -> bytes:
    """Encrypt plaintext so that only the holder of the source's codename can read it."""
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes_raw()
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient_public))
    key = _box_key(shared, ephemeral_public, recipient_public)
    nonce = secrets.token_bytes(_NONCE_BYTES)
    return MAGIC + ephemeral_public + nonce + ChaCha20Poly1305(key).encrypt(nonce, plaintext, MAGIC)
