"""sdlite onion …, and what `sdlite user` says and does about Tor client keys."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from securedrop_lite.onion import (
    OnionNotConfigured,
    OnionStatus,
    apply_user_change,
    auth_private_line,
    authorized_client_line,
)
from securedrop_lite.onion.keys import replace_private
from securedrop_lite.services import Services


class CliError(Exception):
    """A command cannot go ahead; the message says why."""


CLIENT_KEY_TEXT = """
  Tor client key for the ombuds interface at http://{address}/ :
    {key}
  Tor Browser asks for this key the first time it opens that address ("Onion site
  requires authentication"). For a tor ClientOnionAuthDir, save this line as
  {name}.auth_private instead:
    {line}
  Like the passphrase, it is shown only now: the server keeps only its public half.
"""


def client_key_text(services: Services, username: str, private_key: str) -> str:
    address = services.onion.ombuds_address or "(no ombuds onion key yet)"
    line = auth_private_line(address, private_key)
    return CLIENT_KEY_TEXT.format(address=address, key=private_key, name=username, line=line)


def refresh_access(services: Services, quiet: bool = False) -> None:
    """Republish the ombuds service after a change of users; warn loudly when that fails.

    quiet: the standard output carries JSON, so even good news goes to standard error.
    """
    update = apply_user_change(services.onion)
    if update.applied or not services.onion.configured:
        print(update.message, file=sys.stderr if quiet else sys.stdout)
    else:
        print(f"WARNING: {update.message}", file=sys.stderr)


def _print_status(status: OnionStatus) -> None:
    def state(published: bool) -> str:
        return "published" if published else "NOT published"

    print(f"source: http://{status.source_address}/  {state(status.source_published)}")
    ombuds = state(status.ombuds_published)
    if not status.ombuds_published and status.client_keys == 0:
        ombuds += " (no user has a client key: it stays closed)"
    elif not status.clients_current:
        ombuds += " with an OUTDATED list of client keys: run `sdlite onion up`"
    print(f"ombuds: http://{status.ombuds_address}/  {ombuds}, {status.client_keys} client key(s)")


def _export_clients(services: Services, out_dir: Path) -> int:
    """Write one <user>.auth per client key into a HiddenServiceDir's authorized_clients/."""
    clients = services.users.onion_clients()
    if not clients:
        # tor publishes a HiddenServiceDir without any .auth file OPEN to everyone.
        raise CliError(
            "no user has a Tor client key: refusing to leave authorized_clients empty, "
            "which would open the ombuds service to anyone (sdlite user onion-key NAME)"
        )
    lines = {name: authorized_client_line(key) for name, key in clients.items()}  # all valid
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    wanted = {f"{name}.auth" for name in clients}
    for stale in out_dir.glob("*.auth"):
        if stale.name not in wanted:
            stale.unlink()
    for name, line in lines.items():
        replace_private(out_dir / f"{name}.auth", (line + "\n").encode("ascii"))
    print(f"Wrote {len(clients)} client key(s) to {out_dir}; now reload tor.")
    return 0


def run_onion(services: Services, args: argparse.Namespace) -> int:
    """Run `sdlite onion up|status|down|export-clients`."""
    onion = services.onion
    if args.onion_command == "export-clients":
        return _export_clients(services, args.out_dir)
    if args.onion_command == "down":
        onion.down()
        print("Both onion services are withdrawn; their keys stay for the next `up`.")
        return 0
    if args.onion_command == "up":
        status = onion.up()
    else:
        try:
            status = onion.status()
        except OnionNotConfigured:
            print(f"source: http://{onion.source_address}/\nombuds: http://{onion.ombuds_address}/")
            print("sdlite does not publish them: tor_control is not set (see tor/README.md).")
            return 1
    _print_status(status)
    return 0 if status.healthy else 1


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> list[argparse.ArgumentParser]:
    """Add `sdlite onion …`; return the commands that need --data-dir."""
    onion = sub.add_parser("onion", help="publish the onion services through tor's control port")
    onion_sub = onion.add_subparsers(dest="onion_command", required=True)
    commands = [
        onion_sub.add_parser("up", help="publish both services (again), with the current users"),
        onion_sub.add_parser("status", help="show the addresses and whether tor publishes them"),
        onion_sub.add_parser("down", help="withdraw both services; the keys stay"),
    ]
    export = onion_sub.add_parser(
        "export-clients", help="write <user>.auth files for a torrc HiddenServiceDir"
    )
    export.add_argument("out_dir", type=Path, help="the service's authorized_clients folder")
    return [*commands, export]
