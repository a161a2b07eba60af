"""OpenPGP to the ombuds key (GnuPG) and X25519 boxes to a source's derived key."""

from securedrop_lite.crypto.box import DecryptionError, SourceKeyPair, seal_to_source
from securedrop_lite.crypto.gpg import (
    CryptoError,
    EncryptionError,
    GpgStream,
    KeyInfo,
    KeyUnusableError,
    SubmissionKey,
    import_public_key,
)

__all__ = [
    "CryptoError",
    "DecryptionError",
    "EncryptionError",
    "GpgStream",
    "KeyInfo",
    "KeyUnusableError",
    "SourceKeyPair",
    "SubmissionKey",
    "import_public_key",
    "seal_to_source",
]
