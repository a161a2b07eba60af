"""Server-side sessions whose contents are sealed under a key that only the cookie can give.

The cookie holds a random 256-bit token and nothing else. From the token, HKDF derives
the row id (stored as its hash) and a ChaCha20-Poly1305 key for the session data. The
exact expiry is inside the sealed data; only the day is stored in clear, for purging.
A seized server, without the cookie, holds no usable session secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, select

from securedrop_lite.db import Database
from securedrop_lite.models import WebSession

TOKEN_BYTES = 32
PURGE_EVERY = timedelta(hours=1)
_NONCE_BYTES = 12


def _derive(token: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(token)


def _row_id(token: bytes) -> bytes:
    return hashlib.sha256(_derive(token, b"securedrop-lite session id")).digest()


def encode_token(token: bytes) -> str:
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


def decode_token(value: str) -> bytes | None:
    """Return the token in a cookie value, or None if it cannot be one."""
    if len(value) != 43:
        return None
    try:
        token = base64.urlsafe_b64decode(value + "=")
    except (binascii.Error, ValueError):
        return None
    return token if len(token) == TOKEN_BYTES else None


class SessionStore:
    """Creates, loads, saves and ends sealed sessions in the database."""

    def __init__(self, db: Database, lifetime: timedelta, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.lifetime = lifetime
        self.clock = clock
        self._next_purge: datetime | None = None

    def new_token(self) -> bytes:
        return secrets.token_bytes(TOKEN_BYTES)

    def load(self, token: bytes) -> dict[str, Any] | None:
        """Return the session data for token, or None if unknown, tampered with or expired."""
        row_id = _row_id(token)
        with self.db.session() as s:
            row = s.get(WebSession, row_id)
            if row is None:
                return None
            sealed = row.sealed
        try:
            aead = ChaCha20Poly1305(_derive(token, b"securedrop-lite session key"))
            plain = aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], row_id)
            envelope = json.loads(plain)
        except (InvalidTag, ValueError):
            return None
        if datetime.fromisoformat(envelope["expires"]) <= self.clock():
            self.end(token)
            return None
        data: dict[str, Any] = envelope["data"]
        data["_expires"] = envelope["expires"]
        return data

    def save(self, token: bytes, data: dict[str, Any]) -> None:
        """Seal data under token; the expiry set when the session began is kept."""
        now = self.clock()
        stored = {k: v for k, v in data.items() if k != "_expires"}
        expires = data.get("_expires") or (now + self.lifetime).isoformat()
        envelope = json.dumps({"expires": expires, "data": stored}).encode()
        row_id = _row_id(token)
        nonce = secrets.token_bytes(_NONCE_BYTES)
        aead = ChaCha20Poly1305(_derive(token, b"securedrop-lite session key"))
        sealed = nonce + aead.encrypt(nonce, envelope, row_id)
        expires_on = datetime.fromisoformat(expires).date()
        self._purge_now_and_then(now)
        with self.db.session() as s:
            row = s.get(WebSession, row_id)
            if row is None:
                s.add(WebSession(token_hash=row_id, expires_on=expires_on, sealed=sealed))
            else:
                row.sealed = sealed

    def end(self, token: bytes) -> None:
        with self.db.session() as s:
            s.execute(delete(WebSession).where(WebSession.token_hash == _row_id(token)))

    def _purge_now_and_then(self, now: datetime) -> None:
        """Drop stale rows at most once an hour per process, piggybacking on a save."""
        if self._next_purge is None or now >= self._next_purge:
            self._next_purge = now + PURGE_EVERY
            self.purge_expired()

    def purge_expired(self) -> int:
        """Delete rows whose expiry day has passed; returns how many."""
        today = self.clock().date()
        with self.db.session() as s:
            stale = list(s.scalars(select(WebSession).where(WebSession.expires_on < today)))
            for row in stale:
                s.delete(row)
            return len(stale)
