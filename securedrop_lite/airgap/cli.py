"""sdlite-airgap: the ombuds' tool on the air-gapped machine."""

from __future__ import annotations

import argparse
import os
import sys

from securedrop_lite.airgap import (
    decrypt_command,
    export_command,
    keygen_command,
    receipt_command,
    trends_command,
)
from securedrop_lite.crypto import CryptoError

# Each command module adds its subcommand and sets `run(args) -> exit status`.
COMMAND_MODULES = (keygen_command, decrypt_command, export_command, trends_command, receipt_command)


class NetworkRefused(RuntimeError):
    """Something in this process tried to use the network."""


def _refuse_sockets(event: str, args: tuple[object, ...]) -> None:
    if event.startswith("socket.") or event in {"urllib.Request", "http.client.connect"}:
        raise NetworkRefused(f"the air-gapped tool never uses the network ({event})")


def refuse_network() -> None:
    """Make every socket operation in this process fail, for the rest of its life.

    Our own modules import no networking code, but matplotlib imports the socket
    module (for interactive backends we never load); this makes sure nothing can
    use it. Audit hooks cannot be removed, so only the console script installs it.
    """
    sys.addaudithook(_refuse_sockets)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sdlite-airgap", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.umask(0o077)  # plaintext, keys and tags: readable by the ombuds' account only
    try:
        status: int = args.run(args)
    except CryptoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Stopped. Files already reported ok are complete; nothing else was kept.")
        return 130
    return status


def run() -> None:
    """The console script: main() in a process that cannot touch the network."""
    refuse_network()
    try:
        status = main()
    except NetworkRefused as exc:
        print(f"error: {exc}; stopped.", file=sys.stderr)
        status = 3
    sys.exit(status)


if __name__ == "__main__":
    run()
