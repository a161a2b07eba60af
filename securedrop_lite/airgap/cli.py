"""sdlite-airgap: the ombuds' tool on the air-gapped machine."""

from __future__ import annotations

import argparse
import os
import sys

from securedrop_lite.airgap import decrypt_command, export_command, keygen_command, trends_command
from securedrop_lite.crypto import CryptoError

# Each command module adds its subcommand and sets `run(args) -> exit status`.
COMMAND_MODULES = (keygen_command, decrypt_command, export_command, trends_command)


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


if __name__ == "__main__":
    sys.exit(main())
