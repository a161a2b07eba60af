"""Signed receipts: "this SHA-256 existed on this day", signed with the instance's Ed25519 key.

A worker downloads an incident-log entry with its receipt as one UTF-8 text file:

    <heading: what this is and how to check it; NOT covered by the receipt>
    -----BEGIN SDLITE ENTRY-----
    <the entry text, dash-escaped: a line that starts with "-" is written "- -...">
    -----END SDLITE ENTRY-----
    -----BEGIN SDLITE RECEIPT-----
    SHA-256: <64 lowercase hex digits>
    Date: <YYYY-MM-DD>
    Key: ed25519:<base64 of the 32-byte public key>
    Signature: <base64 of the 64-byte signature over signed_message(sha256, date)>
    -----END SDLITE RECEIPT-----

The digest covers the entry text exactly: the lines between the BEGIN and END lines,
un-escaped and joined with "\\n"; the line break before the END line is not part of it
(as in OpenPGP cleartext signatures, RFC 4880 7.1). Entry texts therefore never hold a
carriage return (entry_document refuses one), so a file whose line breaks a Windows
editor or a mail client turned into CRLF still verifies: CRLF is read as LF, and any
other carriage return is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import secrets
import stat
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

RECEIPT_KEY_FILE_MODE = 0o600
MAX_DOCUMENT_BYTES = 1024 * 1024
_MAX_KEY_FILE_BYTES = 4096
_DOMAIN = b"securedrop-lite receipt v1\n"
_KEY_PREFIX = "ed25519:"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
BEGIN_ENTRY, END_ENTRY = "-----BEGIN SDLITE ENTRY-----", "-----END SDLITE ENTRY-----"
BEGIN_RECEIPT, END_RECEIPT = "-----BEGIN SDLITE RECEIPT-----", "-----END SDLITE RECEIPT-----"
_FIELDS = ("SHA-256", "Date", "Key", "Signature")


class ReceiptInvalid(Exception):
    """The document or its receipt is malformed, altered, or signed by another key."""


class ReceiptKeyError(Exception):
    """The instance's receipt key file is missing, unreadable or malformed."""


def entry_digest(text: str) -> str:
    """Return the lowercase hex SHA-256 of the entry text in UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _check_day(day: object) -> date:
    # datetime is a date too, but a receipt names a day and never a time (P4).
    if not isinstance(day, date) or isinstance(day, datetime):
        raise ValueError("a receipt's date must be a datetime.date, never a time")
    return day


def signed_message(sha256_hex: str, day: date) -> bytes:
    """Return the exact bytes a receipt signs, domain-separated from any other signature."""
    if not _SHA256_HEX.fullmatch(sha256_hex):
        raise ValueError("sha256_hex must be 64 lowercase hexadecimal digits")
    iso = _check_day(day).isoformat()
    return _DOMAIN + sha256_hex.encode("ascii") + b"\n" + iso.encode("ascii") + b"\n"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, length: int, what: str) -> bytes:
    """Decode canonical base64 of exactly length bytes; anything else is ReceiptInvalid."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise ReceiptInvalid(f"the {what} is not valid base64") from None
    # Non-canonical spellings (stray padding bits) decode too: refuse them, so that every
    # change to the receipt's text is detected, not only changes to what it means.
    if len(data) != length or _b64(data) != text:
        raise ReceiptInvalid(f"the {what} is not {length} bytes in canonical base64")
    return data


def key_fingerprint(public: bytes) -> str:
    """Return the first 160 bits of SHA-256(public key), in groups of 4 hex digits."""
    digest = hashlib.sha256(public).hexdigest()[:40].upper()
    return " ".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def public_key_text(public: bytes) -> str:
    """Return the one-line form of a public key to publish: "ed25519:<base64>"."""
    if len(public) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return _KEY_PREFIX + _b64(public)


def parse_public_key(text: str) -> bytes:
    """Return the 32 raw bytes of an "ed25519:<base64>" line."""
    text = text.strip()
    if not text.startswith(_KEY_PREFIX):
        raise ReceiptInvalid('a receipt key is written "ed25519:" followed by base64')
    return _unb64(text.removeprefix(_KEY_PREFIX), 32, "public key")


@dataclass(frozen=True)
class Receipt:
    """A signature by public_key over signed_message(sha256, day)."""

    sha256: str
    day: date
    public_key: bytes
    signature: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.sha256, str) or not _SHA256_HEX.fullmatch(self.sha256):
            raise ReceiptInvalid("the SHA-256 is not 64 lowercase hexadecimal digits")
        try:
            _check_day(self.day)
        except ValueError as exc:
            raise ReceiptInvalid(str(exc)) from None
        if not isinstance(self.public_key, bytes) or len(self.public_key) != 32:
            raise ReceiptInvalid("the public key is not 32 bytes")
        if not isinstance(self.signature, bytes) or len(self.signature) != 64:
            raise ReceiptInvalid("the signature is not 64 bytes")

    def to_dict(self) -> dict[str, str]:
        """Return a JSON-safe form; from_dict reads it back."""
        return {
            "sha256": self.sha256,
            "day": self.day.isoformat(),
            "public_key": _b64(self.public_key),
            "signature": _b64(self.signature),
        }

    @classmethod
    def from_dict(cls, data: object) -> Receipt:
        """Read what to_dict wrote; raise ReceiptInvalid on anything else."""
        if not isinstance(data, dict) or set(data) != {"sha256", "day", "public_key", "signature"}:
            raise ReceiptInvalid("a receipt has exactly: sha256, day, public_key, signature")
        if not all(isinstance(value, str) for value in data.values()):
            raise ReceiptInvalid("every field of a receipt is a string")
        return cls(
            data["sha256"],
            _parse_day(data["day"]),
            _unb64(data["public_key"], 32, "public key"),
            _unb64(data["signature"], 64, "signature"),
        )

    def verify(self) -> None:
        """Check the signature; raise ReceiptInvalid unless public_key made it."""
        try:
            key = Ed25519PublicKey.from_public_bytes(self.public_key)
            key.verify(self.signature, signed_message(self.sha256, self.day))
        except (InvalidSignature, ValueError):
            raise ReceiptInvalid(
                "the signature does not match: the receipt was altered or forged"
            ) from None


def _parse_day(text: str) -> date:
    # fromisoformat alone also takes "20261122" and other forms: only YYYY-MM-DD is a Date.
    try:
        if _DAY.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise ReceiptInvalid("the date is not a real day written YYYY-MM-DD")


class ReceiptKey:
    """The instance's Ed25519 private key for receipts, kept in one file readable by its owner."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public_bytes = private.public_key().public_bytes_raw()

    @classmethod
    def load_or_create(cls, path: Path) -> ReceiptKey:
        """Load the key at path, or make one there if there is none."""
        private = Ed25519PrivateKey.from_private_bytes(secrets.token_bytes(32))
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # Written whole beside the path, then linked into place: link() neither replaces nor
        # follows anything, so a process racing us reads either no file or a complete one.
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            with os.fdopen(os.open(temporary, flags, RECEIPT_KEY_FILE_MODE), "wb") as f:
                f.write(pem)
                f.flush()
                os.fsync(f.fileno())
            os.link(temporary, path, follow_symlinks=False)
        except FileExistsError:
            return cls.load(path)  # another process made it first, or it existed: use that
        except OSError as exc:
            raise ReceiptKeyError(f"cannot create {path}: {exc.strerror}") from None
        finally:
            temporary.unlink(missing_ok=True)
        return cls(private)

    @classmethod
    def load(cls, path: Path) -> ReceiptKey:
        """Load the key at path (a PEM PKCS#8 or raw 32-byte Ed25519 private key)."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)  # never wait on a FIFO
        except OSError as exc:
            if os.path.islink(path):
                raise ReceiptKeyError(f"{path} is a symbolic link: refusing it") from None
            raise ReceiptKeyError(f"cannot read {path}: {exc.strerror}") from None
        try:
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):
                raise ReceiptKeyError(f"{path} is not a regular file")
            if mode & 0o077:
                raise ReceiptKeyError(f"{path} is open to group or others: chmod 600 it")
            data = os.read(fd, _MAX_KEY_FILE_BYTES + 1)
        except OSError as exc:
            raise ReceiptKeyError(f"cannot read {path}: {exc.strerror}") from None
        finally:
            os.close(fd)
        return cls(_private_key(data, path))

    def sign(self, sha256_hex: str, day: date) -> Receipt:
        """Return this key's receipt for the digest on that day."""
        signature = self._private.sign(signed_message(sha256_hex, day))
        return Receipt(sha256_hex, day, self.public_bytes, signature)

    def fingerprint(self) -> str:
        """Return the public key's fingerprint, for people to compare."""
        return key_fingerprint(self.public_bytes)


def _private_key(data: bytes, path: Path) -> Ed25519PrivateKey:
    if len(data) == 32:
        return Ed25519PrivateKey.from_private_bytes(data)
    if data.startswith(b"-----BEGIN PRIVATE KEY-----") and len(data) <= _MAX_KEY_FILE_BYTES:
        try:
            private = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            private = None
        if isinstance(private, Ed25519PrivateKey):
            return private
    raise ReceiptKeyError(f"{path} is not an Ed25519 private key (PEM PKCS#8 or 32 raw bytes)")


@dataclass(frozen=True)
class VerifiedDocument:
    """The entry text of a document whose receipt checked out."""

    text: str
    receipt: Receipt
    key_trusted: bool  # whether the receipt's key was compared with a trusted key


def entry_document(text: str, receipt: Receipt, heading: str) -> bytes:
    """Return the downloadable file: heading, dash-escaped entry, and its receipt."""
    if "\r" in text or "\r" in heading:
        raise ValueError("entry texts and headings use \\n line breaks, never \\r")
    if entry_digest(text) != receipt.sha256:
        raise ValueError("this receipt is for another text")
    if any(line.startswith("-") for line in heading.split("\n")):
        raise ValueError("no heading line may start with a dash")
    receipt.verify()  # never hand out a receipt that does not check
    lines = heading.rstrip("\n").split("\n") if heading.strip("\n") else []
    lines.append(BEGIN_ENTRY)
    lines.extend("- " + line if line.startswith("-") else line for line in text.split("\n"))
    lines += [END_ENTRY, BEGIN_RECEIPT, f"SHA-256: {receipt.sha256}"]
    lines += [f"Date: {receipt.day.isoformat()}", f"Key: {public_key_text(receipt.public_key)}"]
    lines += [f"Signature: {_b64(receipt.signature)}", END_RECEIPT, ""]
    document = "\n".join(lines).encode("utf-8")
    if len(document) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"the document would exceed {MAX_DOCUMENT_BYTES} bytes")
    return document


def verify_document(data: bytes, trusted_key: bytes | None) -> VerifiedDocument:
    """Parse a document strictly and check its receipt, against trusted_key when given.

    Without trusted_key this proves only that the file agrees with itself: anyone can
    make a key and sign any text with any date.
    """
    text, receipt = _parse_document(data)
    if entry_digest(text) != receipt.sha256:
        raise ReceiptInvalid("the entry text does not match the receipt's SHA-256: it was changed")
    receipt.verify()
    if trusted_key is not None and receipt.public_key != trusted_key:
        raise ReceiptInvalid(
            f"signed by another key ({key_fingerprint(receipt.public_key)}), "
            f"not the trusted one ({key_fingerprint(trusted_key)})"
        )
    return VerifiedDocument(text, receipt, trusted_key is not None)


def _parse_document(data: bytes) -> tuple[str, Receipt]:
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ReceiptInvalid(f"the file is larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        # Old Windows editors add a byte-order mark and CRLF line breaks when saving.
        document = data.decode("utf-8").removeprefix("\ufeff").replace("\r\n", "\n")
    except UnicodeDecodeError:
        raise ReceiptInvalid("the file is not UTF-8 text") from None
    if "\r" in document:
        raise ReceiptInvalid("the file holds a carriage return that does not end a line")
    lines = document.split("\n")  # never splitlines(): it also splits at \f, \x1c, U+2028…
    # Entry lines that start with a dash are escaped, so each marker can appear only once.
    for marker in (BEGIN_ENTRY, END_ENTRY, BEGIN_RECEIPT, END_RECEIPT):
        if lines.count(marker) != 1:
            how = "no" if marker not in lines else "more than one"
            raise ReceiptInvalid(f'the file has {how} "{marker}" line; an entry file has one')
    begin, end = lines.index(BEGIN_ENTRY), lines.index(END_ENTRY)
    if not begin < end or lines.index(BEGIN_RECEIPT) != end + 1:
        raise ReceiptInvalid("the entry block must come first, the receipt block right after")
    if lines.index(END_RECEIPT) != end + 2 + len(_FIELDS):
        raise ReceiptInvalid(f"the receipt block must hold exactly {len(_FIELDS)} lines")
    for index, line in enumerate(lines):
        dashed = line.startswith("-") and line not in (BEGIN_ENTRY, END_ENTRY)
        if index < begin and dashed:
            raise ReceiptInvalid(f"line {index + 1}: an unexpected line before the entry")
        if begin < index < end and dashed and not line.startswith("- -"):
            raise ReceiptInvalid(f"line {index + 1}: a dash that is not dash-escaped as '- -'")
        if index > end + 2 + len(_FIELDS) and line.strip():
            raise ReceiptInvalid(f"line {index + 1}: unexpected text after the receipt")
    values = []
    for index, field in enumerate(_FIELDS, start=end + 2):
        value = lines[index].removeprefix(f"{field}: ")
        if value == lines[index] or value != value.strip():
            raise ReceiptInvalid(f'line {index + 1}: expected "{field}: …" without stray spaces')
        values.append(value)
    sha256, day, key, signature = values
    receipt = Receipt(
        sha256, _parse_day(day), parse_public_key(key), _unb64(signature, 64, "signature")
    )
    text = "\n".join(line[2:] if line.startswith("-") else line for line in lines[begin + 1 : end])
    return text, receipt


def valid_report(verified: VerifiedDocument, signer: str) -> str:
    """Return what both receipt commands print for a document that verified."""
    receipt = verified.receipt
    return (
        f"valid: this entry (SHA-256 {receipt.sha256}) existed on {receipt.day.isoformat()}, "
        f"signed by {signer}\n"
        "Only the text between the ENTRY lines is covered; the heading above it is not."
    )
