"""sdlite-airgap keygen: the key ceremony, on the air-gapped machine."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from securedrop_lite.airgap.keys import (
    ALGORITHMS,
    export_public_key_bytes,
    generate_key,
    secret_keys,
    stop_agent,
)
from securedrop_lite.crypto import CryptoError

MIN_PASSPHRASE_CHARS = 12


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("keygen", help="make the ombuds' submission key pair")
    parser.add_argument(
        "--gnupghome", type=Path, required=True, help="a new, empty folder for the private key"
    )
    parser.add_argument("--name", default="Ombuds Office")
    parser.add_argument(
        "--algorithm",
        choices=sorted(ALGORITHMS),
        default="ed25519",
        help="ed25519 (with a Cv25519 subkey, the default) or rsa4096",
    )
    parser.add_argument(
        "--public-out",
        type=Path,
        default=Path("ombuds-public-key.asc"),
        help="where to write the public key to carry to the server",
    )
    parser.add_argument(
        "--passphrase-fd",
        type=int,
        metavar="FD",
        help="read the passphrase from this file descriptor, not the terminal",
    )
    parser.set_defaults(run=_keygen)


def read_passphrase(fd: int | None, prompt: str, confirm: bool) -> str:
    """Read a passphrase from fd (one line) or from the terminal, twice if confirm."""
    if fd is not None:
        try:
            with os.fdopen(fd, "r", encoding="utf-8", closefd=False) as stream:
                return stream.readline().rstrip("\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise CryptoError(f"could not read a passphrase from descriptor {fd}: {exc}") from exc
    passphrase = getpass.getpass(prompt)
    if confirm and getpass.getpass("The same passphrase again: ") != passphrase:
        raise CryptoError("the two passphrases differ; nothing was made")
    return passphrase


def _home_already_has_a_key(home: Path) -> bool:
    try:
        return bool(secret_keys(home))
    finally:
        stop_agent(home)


def _claim_public_out(path: Path) -> int:
    """Create the public key file now, refusing an existing file or any symbolic link."""
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except FileExistsError:
        raise CryptoError(f"{path} exists; choose another --public-out") from None
    except OSError as exc:
        raise CryptoError(f"cannot write {path}: {exc.strerror}") from None


def _keygen(args: argparse.Namespace) -> int:
    home = args.gnupghome.resolve()
    if args.public_out.exists() or args.public_out.is_symlink():
        print(f"Refusing: {args.public_out} exists; choose another --public-out.", file=sys.stderr)
        return 2
    if _home_already_has_a_key(home):
        print(f"Refusing: {home} already holds a secret key. Use a new --gnupghome, so that "
              "`decrypt` never guesses which key to use.", file=sys.stderr)  # fmt: skip
        return 2
    passphrase = read_passphrase(args.passphrase_fd, "Passphrase for the new key: ", True)
    if len(passphrase) < MIN_PASSPHRASE_CHARS:
        print(f"Refusing: choose a passphrase of at least {MIN_PASSPHRASE_CHARS} characters.",
              file=sys.stderr)  # fmt: skip
        return 2
    # Claimed before the key is made, so a bad path never leaves a key with no export.
    public_fd = _claim_public_out(args.public_out)
    try:
        fingerprint = generate_key(home, args.name, passphrase, args.algorithm)
        with os.fdopen(public_fd, "wb") as public_out:
            public_out.write(export_public_key_bytes(home, fingerprint))
    except BaseException:
        args.public_out.unlink(missing_ok=True)
        raise
    finally:
        stop_agent(home)
    grouped = " ".join(fingerprint[i : i + 4] for i in range(0, len(fingerprint), 4))
    print(f"Public key written to {args.public_out}. Carry it to the server for `sdlite init`.")
    print(f"Fingerprint, to compare out of band with what the server shows: {grouped}")
    return 0
