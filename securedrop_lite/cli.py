"""sdlite: set up, serve and demonstrate an instance."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import segno

from securedrop_lite import cli_onion, cli_receipts, db
from securedrop_lite.config import (
    Config,
    ConfigError,
    check_loopback,
    config_path,
    load_config,
    write_new_config,
)
from securedrop_lite.crypto import CryptoError, KeyUnusableError, SubmissionKey, import_public_key
from securedrop_lite.crypto.gpg import ensure_home
from securedrop_lite.onion import OnionKeyError, TorError, ensure_keys
from securedrop_lite.process import make_undumpable
from securedrop_lite.receipts import ReceiptKey, ReceiptKeyError
from securedrop_lite.services import Services
from securedrop_lite.services.users import AccountError
from securedrop_lite.store import Store

NEW_USER_TEXT = """
New {role} account: {new.username}

  Passphrase:   {new.passphrase}
  TOTP secret:  {new.totp_secret}
  TOTP URI:     {new.totp_uri}

Give these to {new.username} in person. They are shown only now: the server keeps a
hash of the passphrase, and nobody can read it back. Add the TOTP secret to an
authenticator app (type it, or scan the code below).
"""


class CliError(Exception):
    """A command cannot go ahead; the message says why and what to do."""


def initialize(data_dir: Path, key_file: Path, organization: str) -> str:
    """Create an instance in data_dir for the public key in key_file; return its fingerprint."""
    data_dir = data_dir.resolve()
    if config_path(data_dir).exists():
        raise CliError(f"{data_dir} is initialized already")
    try:
        armored = key_file.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {key_file}: {exc.strerror}") from exc
    # Check the key in a scratch home first, so a refused key leaves nothing behind.
    with tempfile.TemporaryDirectory() as scratch:
        fingerprint = import_public_key(Path(scratch), armored)
        SubmissionKey(Path(scratch), fingerprint).check(datetime.now(UTC))
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    config = config_path(data_dir)
    loaded: Config | None = None
    try:
        ensure_home(data_dir / "gnupg")
        import_public_key(data_dir / "gnupg", armored)
        write_new_config(data_dir, fingerprint, organization)
        loaded = load_config(os.environ, config)
        Store(loaded.store_dir, lambda: datetime.now(UTC))
        db.upgrade(loaded.database_url)
        # The onion addresses exist from the start: the apps answer for them, and
        # `user add` writes them into each user's client-key line.
        from securedrop_lite.services import onion_settings

        ensure_keys(onion_settings(loaded))
        ReceiptKey.load_or_create(loaded.receipt_key_path)  # signs incident-log receipts
    except BaseException:
        config.unlink(missing_ok=True)
        shutil.rmtree(data_dir / "gnupg", ignore_errors=True)
        shutil.rmtree(data_dir / "onion", ignore_errors=True)
        if loaded is not None:
            loaded.receipt_key_path.unlink(missing_ok=True)
        raise
    return fingerprint


def _init(args: argparse.Namespace) -> int:
    fingerprint = initialize(args.data_dir, args.submission_key, args.organization)
    print(f"Initialized {args.data_dir.resolve()} for submission key {fingerprint}.")
    print("Check this fingerprint against the one sdlite-airgap keygen printed.")
    return 0


def _load(data_dir: Path) -> Config:
    config = load_config(os.environ, config_path(data_dir.resolve()))
    if config.kdf.memory_cost_kib < config.kdf.MIN_MEMORY_KIB:
        print("WARNING: insecure test KDF profile: secrets are cheap to guess", file=sys.stderr)
    db.upgrade(config.database_url)
    return config


def _serve(args: argparse.Namespace, when_ready: Callable[[Any], None] | None = None) -> int:
    from securedrop_lite.serve import serve

    config = _load(args.data_dir)
    # An instance made before receipts existed gets its key now, by the service user,
    # before any worker could need it (workers only read it).
    ReceiptKey.load_or_create(config.receipt_key_path)
    if args.app == "journalist":
        from journalist_interface import create_app as create_journalist_app

        factory = create_journalist_app
    else:
        from source_interface import create_app as create_source_app

        factory = create_source_app
    bind = args.bind or (config.ombuds_listen if args.app == "journalist" else config.source_listen)
    check_loopback(bind)
    serve(
        lambda: factory(config),
        bind,
        args.workers,
        args.threads,
        config.upload_idle_seconds,
        when_ready,
    )
    return 0


@contextmanager
def _services(data_dir: Path) -> Iterator[Services]:
    """The services of the instance in data_dir, for one command; its connections close after."""
    from securedrop_lite.services import build_services

    services = build_services(_load(data_dir))
    try:
        yield services
    finally:
        services.db.dispose()


def _user(args: argparse.Namespace) -> int:
    with _services(args.data_dir) as services:
        return _user_command(services, args)


def _user_command(services: Services, args: argparse.Namespace) -> int:
    from securedrop_lite.services.audit import Event

    ensure_keys(services.onion.settings)  # instances made before onion keys existed
    if args.user_command == "list":
        for account in services.users.list():
            print(f"{account.username}{'  (admin)' if account.is_admin else ''}")
        return 0
    if args.user_command == "delete":
        services.users.delete(services.users.find(args.name).id)
        services.audit.record(Event.USER_DELETED)
        print(f"Deleted {args.name}; their Tor client key is revoked.")
        cli_onion.refresh_access(services)
        return 0
    if args.user_command == "onion-key":
        account = services.users.find(args.name)
        private_key = services.users.new_onion_key(account.id)
        print(f"{args.name} has a new Tor client key; the old one is revoked.")
        print(cli_onion.client_key_text(services, account.username, private_key))
        cli_onion.refresh_access(services)
        return 0
    new = services.users.add(args.name, args.admin)
    services.audit.record(Event.USER_ADDED)
    if args.json:
        print(
            json.dumps({**dataclasses.asdict(new), "onion_address": services.onion.ombuds_address})
        )
    else:
        print(NEW_USER_TEXT.format(new=new, role="admin" if new.is_admin else "ombuds"))
        segno.make(new.totp_uri, error="m").terminal(compact=True)
        print(cli_onion.client_key_text(services, new.username, new.onion_private_key))
    cli_onion.refresh_access(services, quiet=args.json)
    return 0


def _onion(args: argparse.Namespace) -> int:
    with _services(args.data_dir) as services:
        return cli_onion.run_onion(services, args)


def _purge(args: argparse.Namespace) -> int:
    with _services(args.data_dir) as services:
        return _purge_command(services, args)


def _purge_command(services: Services, args: argparse.Namespace) -> int:
    from datetime import timedelta

    from securedrop_lite.services.audit import Event

    days = args.older_than
    if days is None:
        days = services.settings.current().retention_days or None
    if days is not None and days < 1:
        raise CliError("--older-than takes a number of days of at least 1")
    expired = services.deletion.expire(None if days is None else timedelta(days=days))
    request_days = services.config.conversation_request_days
    requests = services.deletion.expire_conversation_requests(timedelta(days=request_days))
    report = services.deletion.purge()
    if report.sources or report.items:
        services.audit.record(Event.PURGE)
    print(
        f"Expired {expired} source(s); destroyed {report.sources} source(s) and "
        f"{report.items} separate item(s)."
    )
    print(f"Expired {requests} conversation request(s) older than {request_days} day(s).")
    if report.failed:
        print(f"{report.failed} could not be destroyed yet; run sdlite purge again later.")
        return 1
    return 0


def _demo(args: argparse.Namespace) -> int:
    from securedrop_lite.demo import demo_banner, make_demo_instance, publish_demo_onions
    from securedrop_lite.services import build_services

    data_dir = args.data_dir.resolve()
    # Until gunicorn installs its own handlers, a SIGTERM must still unwind the finally
    # below, or the onion services would outlive the demo. Python swallows an exception
    # raised while a garbage-collection callback runs, so the handler also leaves a mark
    # that is checked before gunicorn starts, and again once it handles signals itself.
    terminated = threading.Event()

    def on_sigterm(*_: object) -> None:
        terminated.set()
        sys.exit(0)

    def stop_if_terminated(arbiter: Any) -> None:
        if terminated.is_set():
            os.kill(os.getpid(), signal.SIGTERM)  # now gunicorn's handler: a clean stop

    signal.signal(signal.SIGTERM, on_sigterm)
    # The listen addresses are settings, so both servers and the onion targets agree.
    for flag, name in (
        (args.bind, "SDLITE_SOURCE_LISTEN"),
        (args.journalist_bind, "SDLITE_OMBUDS_LISTEN"),
    ):
        if flag:
            os.environ[name] = flag
    airgap = make_demo_instance(data_dir, initialize)
    services = build_services(_load(data_dir))
    onions = None
    journalist: subprocess.Popen[bytes] | None = None
    try:
        onions = publish_demo_onions(services)
        print(demo_banner(services.config, airgap, onions), flush=True)
        journalist = subprocess.Popen(
            [sys.executable, "-m", "securedrop_lite.cli", "serve", "journalist",
             "--data-dir", str(data_dir), "--workers", "1"]
        )  # fmt: skip
        args.data_dir, args.app, args.bind = data_dir, "source", None
        if terminated.is_set():
            return 0
        return _serve(args, stop_if_terminated)
    finally:
        if journalist is not None:
            journalist.terminate()
            journalist.wait(timeout=30)
        if onions is not None:
            services.onion.down()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sdlite", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="create an instance for the ombuds' public key")
    init.add_argument("--data-dir", type=Path, required=True)
    init.add_argument("--submission-key", type=Path, required=True, help="armored public key")
    init.add_argument("--organization", default="Ombuds Office")
    for name, helptext in (("serve", "serve an app with gunicorn"), ("demo", "run a demo")):
        command = sub.add_parser(name, help=helptext)
        if name == "serve":
            command.add_argument("app", choices=["source", "journalist"])
        command.add_argument(
            "--data-dir", type=Path, required=name == "serve", default=Path(".demo")
        )
        command.add_argument("--bind", help="loopback HOST:PORT (default: from the config)")
        command.add_argument("--workers", type=int, default=2)
        command.add_argument("--threads", type=int, default=8)
        if name == "demo":
            command.add_argument("--journalist-bind", help="loopback HOST:PORT")
    user = sub.add_parser("user", help="manage ombuds accounts")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", help="add an account with a generated passphrase and TOTP")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="the account may manage users")
    add.add_argument("--json", action="store_true", help="print the credentials as JSON")
    delete = user_sub.add_parser("delete", help="delete an account")
    delete.add_argument("name")
    listing = user_sub.add_parser("list", help="list accounts")
    rekey = user_sub.add_parser("onion-key", help="replace an account's Tor client key")
    rekey.add_argument("name")
    purge = sub.add_parser("purge", help="destroy deleted and expired data")
    purge.add_argument(
        "--older-than", type=int, metavar="DAYS", help="also delete sources idle this long"
    )
    registered = [*cli_onion.register(sub), *cli_receipts.register(sub)]
    for command in (add, delete, listing, rekey, purge, *registered):
        command.add_argument("--data-dir", type=Path, required=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.umask(0o077)  # the database, store and keyring: readable by the service user only
    make_undumpable()
    handlers = {
        "init": _init,
        "serve": _serve,
        "demo": _demo,
        "user": _user,
        "purge": _purge,
        "onion": _onion,
        "verify-receipt": cli_receipts.run,
        "receipt-key": cli_receipts.run,
    }
    try:
        return handlers[args.command](args)
    except (CliError, cli_onion.CliError, ConfigError, AccountError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyUnusableError as exc:
        print(f"error: the submission key cannot be used: {exc}", file=sys.stderr)
        return 2
    except TorError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 3
    except OnionKeyError as exc:
        print(f"error: onion service key: {exc}", file=sys.stderr)
        return 2
    except CryptoError as exc:
        print(f"error: GnuPG failed: {exc}", file=sys.stderr)
        return 2
    except ReceiptKeyError as exc:
        print(f"error: receipt key: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
