"""sdlite-airgap: the ombuds' tool on the air-gapped machine."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from securedrop_lite.airgap.decrypt import DecryptFailed, decrypt_file
from securedrop_lite.airgap.keys import export_public_key, generate_key, stop_agent
from securedrop_lite.crypto import CryptoError


def _keygen(args: argparse.Namespace) -> int:
    passphrase = getpass.getpass("Passphrase for the new key: ")
    if len(passphrase) < 12:
        print("Refusing: choose a passphrase of at least 12 characters.", file=sys.stderr)
        return 2
    if getpass.getpass("The same passphrase again: ") != passphrase:
        print("Refusing: the two passphrases differ. Nothing was made.", file=sys.stderr)
        return 2
    home = args.gnupghome.resolve()
    try:
        fingerprint = generate_key(home, args.name, passphrase)
        export_public_key(home, fingerprint, args.public_out)
    finally:
        stop_agent(home)
    print(f"Public key written to {args.public_out}. Carry it to the server for 'sdlite init'.")
    print(f"Fingerprint, to check out of band: {fingerprint}")
    return 0


def _decrypt(args: argparse.Namespace) -> int:
    inputs = sorted(args.input.glob("*.gpg")) if args.input.is_dir() else [args.input]
    passphrase = "" if args.no_passphrase else getpass.getpass("Key passphrase: ")
    failures = 0
    try:
        for path in inputs:
            try:
                result = decrypt_file(args.gnupghome.resolve(), path, args.out, passphrase)
            except DecryptFailed as exc:
                failures += 1
                print(f"failed  {exc}")
                continue
            print(f"ok      {path.name} -> {result.path}")
    finally:
        stop_agent(args.gnupghome.resolve())
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sdlite-airgap", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    keygen = sub.add_parser("keygen", help="make the ombuds key pair")
    keygen.add_argument("--gnupghome", type=Path, required=True)
    keygen.add_argument("--name", default="Ombuds Office")
    keygen.add_argument("--public-out", type=Path, default=Path("ombuds-public-key.asc"))
    decrypt = sub.add_parser("decrypt", help="decrypt a .gpg file or a folder of them")
    decrypt.add_argument("input", type=Path)
    decrypt.add_argument("--gnupghome", type=Path, required=True)
    decrypt.add_argument("--out", type=Path, required=True)
    decrypt.add_argument("--no-passphrase", action="store_true", help="the DEMO key has none")
    args = parser.parse_args(argv)
    os.umask(0o077)  # plaintext and keys: readable by the ombuds' account only
    try:
        return {"keygen": _keygen, "decrypt": _decrypt}[args.command](args)
    except CryptoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
