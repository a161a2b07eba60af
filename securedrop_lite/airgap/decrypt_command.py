"""sdlite-airgap decrypt: one .gpg file, a zip from the ombuds interface, or a folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from securedrop_lite.airgap.decrypt import (
    DEFAULT_MAX_BYTES,
    DecryptFailed,
    check_passphrase,
    decrypt_sealed,
)
from securedrop_lite.airgap.inputs import InputUnreadable, Refused, Sealed, read_input
from securedrop_lite.airgap.keygen_command import read_passphrase
from securedrop_lite.airgap.keys import SecretKey, find_secret_key, stop_agent
from securedrop_lite.airgap.names import printable


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("decrypt", help="decrypt a .gpg file, a downloaded zip or a folder")
    parser.add_argument("input", type=Path)
    parser.add_argument("--gnupghome", type=Path, required=True)
    parser.add_argument(
        "--out", type=Path, required=True, help="plaintext goes here, one folder per source"
    )
    parser.add_argument(
        "--key",
        metavar="FINGERPRINT",
        help="the submission key, if the GnuPG home holds more than one",
    )
    parser.add_argument(
        "--max-size",
        type=int,
        default=DEFAULT_MAX_BYTES,
        metavar="BYTES",
        help="refuse any item that decrypts to more than this",
    )
    secret = parser.add_mutually_exclusive_group()
    secret.add_argument(
        "--passphrase-fd",
        type=int,
        metavar="FD",
        help="read the key's passphrase from this file descriptor",
    )
    secret.add_argument("--no-passphrase", action="store_true", help="the DEMO key has none")
    parser.set_defaults(run=_decrypt)


def _report(
    entries: list[Sealed | Refused], key: SecretKey, args: argparse.Namespace, passphrase: str
) -> int:
    """Decrypt every entry, one report line each; return the number that failed."""
    failures = 0
    for entry in entries:
        if isinstance(entry, Refused):
            failures += 1
            print(f"failed  {entry.label}: {entry.reason}")
            continue
        try:
            result = decrypt_sealed(key, entry, args.out, passphrase, args.max_size)
        except DecryptFailed as exc:
            failures += 1
            print(f"failed  {entry.label}: {exc}")
            continue
        shown = printable(str(result.path.relative_to(args.out)))
        print(f"ok      {entry.label} -> {shown}")
    return failures


def _decrypt(args: argparse.Namespace) -> int:
    home = args.gnupghome.resolve()
    args.out = args.out.resolve()
    try:
        with read_input(args.input) as entries:
            if not entries:
                print(f"Nothing to decrypt in {printable(str(args.input))}.", file=sys.stderr)
                return 1
            try:  # every gpg call below may start the agent; it never outlives the run
                key = find_secret_key(home, args.key)
                passphrase = "" if args.no_passphrase else read_passphrase(
                    args.passphrase_fd, "Passphrase of the submission key: ", False)  # fmt: skip
                check_passphrase(key, passphrase)
                failures = _report(entries, key, args, passphrase)
            finally:
                stop_agent(home)
    except InputUnreadable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(entries) - failures} decrypted, {failures} failed; plaintext is under {args.out}")
    return 1 if failures else 0
