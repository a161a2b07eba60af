"""sdlite verify-receipt FILE and sdlite receipt-key: incident-log receipts on the server."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from securedrop_lite.config import config_path, load_config
from securedrop_lite.receipts import (
    MAX_DOCUMENT_BYTES,
    ReceiptInvalid,
    ReceiptKey,
    public_key_text,
    valid_report,
    verify_document,
)


def _receipt_key(data_dir: Path) -> ReceiptKey:
    # Only the config, as cli._load reads it: checking a receipt needs no database
    # migration, and importing cli from here would make an import cycle.
    config = load_config(os.environ, config_path(data_dir.resolve()))
    return ReceiptKey.load(config.receipt_key_path)  # never made here: init makes it


def _verify(args: argparse.Namespace) -> int:
    key = _receipt_key(args.data_dir)
    try:
        with args.file.open("rb") as document:
            data = document.read(MAX_DOCUMENT_BYTES + 1)  # verify_document refuses more
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        verified = verify_document(data, key.public_bytes)
    except ReceiptInvalid as exc:
        print(f"INVALID: {exc}")
        return 1
    print(valid_report(verified, f"this instance's receipt key {key.fingerprint()}"))
    return 0


def _show_key(args: argparse.Namespace) -> int:
    key = _receipt_key(args.data_dir)
    print(public_key_text(key.public_bytes))
    print(f"fingerprint: {key.fingerprint()}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run `sdlite verify-receipt` or `sdlite receipt-key`."""
    return _verify(args) if args.command == "verify-receipt" else _show_key(args)


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> list[argparse.ArgumentParser]:
    """Add `sdlite verify-receipt` and `sdlite receipt-key`; return those that need --data-dir."""
    verify = sub.add_parser(
        "verify-receipt", help="check an incident-log entry file against this instance's key"
    )
    verify.add_argument("file", type=Path, help="the entry file a worker downloaded")
    key = sub.add_parser(
        "receipt-key", help="print the receipt public key and its fingerprint, to publish"
    )
    return [verify, key]
