"""sdlite: set up, serve and demonstrate an instance."""

from __future__ import annotations

import argparse
import ipaddress
import os
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from securedrop_lite import db
from securedrop_lite.config import ConfigError, config_path, load_config, write_new_config
from securedrop_lite.crypto import CryptoError, KeyUnusableError, SubmissionKey, import_public_key
from securedrop_lite.crypto.gpg import ensure_home
from securedrop_lite.store import Store

DEMO_BANNER = """
================================================================================
 securedrop-lite DEMO instance, for trying the software only
================================================================================
 Source interface:   http://{bind}/
 Data directory:     {data_dir}
 DEMO private key:   {airgap}  (no passphrase)

 The demo's private key sits next to the server only so you can try the whole
 round trip on one machine. In a real deployment the private key is made and
 kept on the air-gapped machine (sdlite-airgap keygen) and never touches the
 server. Never use this key for real submissions.

 Try it: open the address above, get a codename, send a message and a file.
 Then decrypt what arrived, as the ombuds would on the air-gapped machine:
   .venv/bin/sdlite-airgap decrypt {data_dir}/store/<source dir> \\
       --gnupghome {airgap}/gnupg --out {data_dir}/decrypted --no-passphrase
 Press Ctrl-C to stop.
================================================================================
"""


class CliError(Exception):
    """A command cannot go ahead; the message says why and what to do."""


def _check_loopback(bind: str) -> None:
    host = bind.rsplit(":", 1)[0].strip("[]")
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise CliError(f"refusing to bind {bind}: sdlite serves on loopback only; tor publishes it")


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
    try:
        ensure_home(data_dir / "gnupg")
        import_public_key(data_dir / "gnupg", armored)
        write_new_config(data_dir, fingerprint, organization)
        loaded = load_config(os.environ, config)
        Store(loaded.store_dir, lambda: datetime.now(UTC))
        db.upgrade(loaded.database_url)
    except BaseException:
        config.unlink(missing_ok=True)
        shutil.rmtree(data_dir / "gnupg", ignore_errors=True)
        raise
    return fingerprint


def _init(args: argparse.Namespace) -> int:
    fingerprint = initialize(args.data_dir, args.submission_key, args.organization)
    print(f"Initialized {args.data_dir.resolve()} for submission key {fingerprint}.")
    print("Check this fingerprint against the one sdlite-airgap keygen printed.")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from securedrop_lite.serve import serve
    from source_interface import create_app

    _check_loopback(args.bind)
    config = load_config(os.environ, config_path(args.data_dir.resolve()))
    if config.kdf.memory_cost_kib < config.kdf.MIN_MEMORY_KIB:
        print("WARNING: insecure test KDF profile: codenames are cheap to guess", file=sys.stderr)
    db.upgrade(config.database_url)
    serve(lambda: create_app(config), args.bind, args.workers, args.threads)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from securedrop_lite.airgap.keys import export_public_key, generate_key, stop_agent

    data_dir = args.data_dir.resolve()
    airgap = data_dir / "airgap-demo"
    if not config_path(data_dir).exists():
        shutil.rmtree(airgap, ignore_errors=True)  # a half-made demo from an earlier failure
        fingerprint = generate_key(airgap / "gnupg", "DEMO Ombuds Office - NOT FOR REAL USE", "")
        public = airgap / "demo-public-key.asc"
        export_public_key(airgap / "gnupg", fingerprint, public)
        stop_agent(airgap / "gnupg")
        (airgap / "README-DEMO-ONLY.txt").write_text(
            "This folder holds a DEMO private key with no passphrase, beside the server only\n"
            "so the round trip can be tried on one machine. Never use it for real.\n"
        )
        initialize(data_dir, public, "Demo Ombuds Office")
    print(DEMO_BANNER.format(bind=args.bind, data_dir=data_dir, airgap=airgap), flush=True)
    args.data_dir = data_dir
    return _serve(args)


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
            command.add_argument("app", choices=["source"])
        command.add_argument(
            "--data-dir", type=Path, required=name == "serve", default=Path(".demo")
        )
        command.add_argument("--bind", default="127.0.0.1:8080")
        command.add_argument("--workers", type=int, default=2)
        command.add_argument("--threads", type=int, default=8)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.umask(0o077)  # the database, store and keyring: readable by the service user only
    handlers = {"init": _init, "serve": _serve, "demo": _demo}
    try:
        return handlers[args.command](args)
    except (CliError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyUnusableError as exc:
        print(f"error: the submission key cannot be used: {exc}", file=sys.stderr)
        return 2
    except CryptoError as exc:
        print(f"error: GnuPG failed: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
