"""The two secrets of an ombuds login: an Argon2id-hashed passphrase and a TOTP code."""

from __future__ import annotations

import hmac
import re
from datetime import datetime

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from securedrop_lite.config import KdfParams

TOTP_DIGITS = 6
TOTP_PERIOD_SECONDS = 30
# One step either side of now: phones and servers drift.
TOTP_TOLERANCE_STEPS = 1
MAX_PASSPHRASE_CHARS = 256
_CODE = re.compile(r"[0-9]{6}")


def passphrase_hasher(params: KdfParams) -> PasswordHasher:
    """Return an Argon2id hasher with the instance's cost (>= 64 MiB outside tests)."""
    return PasswordHasher(
        time_cost=params.time_cost,
        memory_cost=params.memory_cost_kib,
        parallelism=params.parallelism,
    )


def normalize_passphrase(typed: str) -> str:
    """Collapse spaces and case, so a passphrase copied with a stray space still works."""
    return " ".join(typed.lower().split())


class PassphraseCheck:
    """Verifies passphrases; unknown accounts cost the same as known ones."""

    def __init__(self, hasher: PasswordHasher) -> None:
        self.hasher = hasher
        self._dummy_hash = hasher.hash("not a passphrase of anyone")

    def hash(self, passphrase: str) -> str:
        return self.hasher.hash(normalize_passphrase(passphrase))

    def verify(self, stored_hash: str | None, typed: str) -> bool:
        """Return whether typed matches stored_hash; with None, spend the time and say no."""
        candidate = normalize_passphrase(typed[:MAX_PASSPHRASE_CHARS])
        try:
            self.hasher.verify(stored_hash or self._dummy_hash, candidate)
        except (VerificationError, InvalidHashError):
            return False
        return stored_hash is not None

    def needs_rehash(self, stored_hash: str) -> bool:
        return self.hasher.check_needs_rehash(stored_hash)


def new_totp_secret() -> str:
    """Return a fresh 160-bit base32 TOTP secret (pyotp draws it with `secrets`)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, username: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def totp_code(secret: str, at: datetime) -> str:
    """Return the code an authenticator app shows at a given time (tests and enrollment)."""
    return pyotp.TOTP(secret).at(at)


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """Return the time step that code belongs to, within the tolerance, or None."""
    code = "".join(code.split())
    if not _CODE.fullmatch(code):
        return None
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD_SECONDS)
    current = totp.timecode(now)
    found = None
    for step in range(current - TOTP_TOLERANCE_STEPS, current + TOTP_TOLERANCE_STEPS + 1):
        # No early exit: every candidate is compared in constant time.
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found
