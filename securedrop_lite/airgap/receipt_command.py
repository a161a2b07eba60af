"""`sdlite-airgap verify-receipt FILE --key KEY`: check an entry file against a pinned key."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from securedrop_lite.airgap.names import printable
from securedrop_lite.receipts import (
    MAX_DOCUMENT_BYTES,
    ReceiptInvalid,
    key_fingerprint,
    parse_public_key,
    valid_report,
    verify_document,
)

_MAX_KEY_FILE_BYTES = 64 * 1024
KEY_PREFIX = "ed25519:"


class Unreadable(Exception):
    """A file named on the command line cannot be read."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the verify-receipt subcommand."""
    parser = sub.add_parser(
        "verify-receipt", help="check an incident-log entry file against the office's receipt key"
    )
    parser.add_argument("file", type=Path, help="the entry file, with its receipt")
    # Without a pinned key a receipt proves only that it agrees with itself: anyone can
    # make a key and sign any text with any date. So there is no way to leave it out.
    parser.add_argument(
        "--key",
        required=True,
        metavar="KEYFILE_OR_TEXT",
        help='the published "ed25519:…" line, or a file that holds it '
        "(such as the saved output of `sdlite receipt-key`)",
    )
    parser.set_defaults(run=_verify)


def _read(path: Path, limit: int) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(limit + 1)
    except OSError as exc:
        raise Unreadable(f"cannot read {printable(str(path))}: {exc.strerror}") from None


def trusted_key(argument: str) -> bytes:
    """Return the key given as text, or read from the file holding its one ed25519: line."""
    if argument.strip().startswith(KEY_PREFIX):
        return parse_public_key(argument)
    data = _read(Path(argument), _MAX_KEY_FILE_BYTES)
    if len(data) > _MAX_KEY_FILE_BYTES:
        raise ReceiptInvalid(f"{printable(argument)} is too large to be a key file")
    try:
        lines = data.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        raise ReceiptInvalid(f"{printable(argument)} is not a text file") from None
    keys = [line for line in lines if line.strip().startswith(KEY_PREFIX)]
    if len(keys) != 1:
        raise ReceiptInvalid(
            f'{printable(argument)} must hold exactly one "ed25519:…" line, not {len(keys)}'
        )
    return parse_public_key(keys[0])


def _verify(args: argparse.Namespace) -> int:
    try:
        key = trusted_key(args.key)
    except (Unreadable, ReceiptInvalid) as exc:
        print(f"error: the --key: {exc}", file=sys.stderr)
        return 2
    try:
        verified = verify_document(_read(args.file, MAX_DOCUMENT_BYTES), key)
    except Unreadable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ReceiptInvalid as exc:
        print(f"INVALID: {exc}")
        return 1
    print(valid_report(verified, f"the given receipt key {key_fingerprint(key)}"))
    return 0
