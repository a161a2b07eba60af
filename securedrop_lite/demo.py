"""The demo instance behind `make demo`: a DEMO key pair and admin, clearly labelled."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from securedrop_lite.config import Config, config_path, load_config
from securedrop_lite.onion import OnionStatus, TorError
from securedrop_lite.services import Services, build_services

DEMO_ADMIN = "demo-admin"
DEMO_BANNER = """
================================================================================
 securedrop-lite DEMO instance, for trying the software only
================================================================================
 Source interface:   http://{bind}/
 Ombuds interface:   http://{journalist_bind}/
{onions} Data directory:     {data_dir}
 DEMO private key:   {airgap}/gnupg  (no passphrase)
 DEMO admin login:   {airgap}/demo-admin.json  (username, passphrase, TOTP secret)

 The demo's private key and admin credentials sit next to the server only so you
 can try the whole round trip on one machine. In a real deployment the private
 key is made and kept on the air-gapped machine (sdlite-airgap keygen) and never
 touches the server, and each account's passphrase is handed over in person.
 Never use this key or these credentials for real submissions.

 Try it: open the source interface, get a codename, send a message and a file.
 Log in to the ombuds interface as demo-admin; the current two-factor code is:
   .venv/bin/python -c "import json,pyotp; print(pyotp.TOTP(json.load(open(\\
'{airgap}/demo-admin.json'))['totp_secret']).now())"
 Download the items as a zip, then decrypt it as the ombuds would offline
 (plaintext lands in one folder per source):
   .venv/bin/sdlite-airgap decrypt ~/Downloads/<designation>.zip \\
       --gnupghome {airgap}/gnupg --out {data_dir}/decrypted --no-passphrase
 Press Ctrl-C to stop.
================================================================================
"""


ONIONS_PUBLISHED = """ Source onion:       http://{status.source_address}/
 Ombuds onion:       http://{status.ombuds_address}/
                     (Tor client key: onion_private_key in demo-admin.json)
"""
ONIONS_OFF = """ Onion services:     not published. To publish them too, point tor_control in
                     {data_dir}/sdlite.toml (or SDLITE_TOR_CONTROL) at a tor
                     control port; see tor/README.md.
"""


def publish_demo_onions(services: Services) -> OnionStatus | None:
    """Publish both onion services when a control port is configured; None if not."""
    if not services.onion.configured:
        return None
    try:
        return services.onion.up()
    except TorError as exc:
        print(f"WARNING: the onion services were not published: {exc}", file=sys.stderr)
        return None


def demo_banner(config: Config, airgap: Path, onions: OnionStatus | None) -> str:
    published = ONIONS_PUBLISHED.format(status=onions) if onions else None
    return DEMO_BANNER.format(
        bind=config.source_listen,
        journalist_bind=config.ombuds_listen,
        data_dir=config.data_dir,
        airgap=airgap,
        onions=published or ONIONS_OFF.format(data_dir=config.data_dir),
    )


def make_demo_instance(data_dir: Path, initialize: Callable[[Path, Path, str], str]) -> Path:
    """Create the demo instance in data_dir unless it exists; return its air-gap folder."""
    from securedrop_lite.airgap.keys import export_public_key, generate_key, stop_agent

    airgap = data_dir / "airgap-demo"
    if config_path(data_dir).exists():
        return airgap
    shutil.rmtree(airgap, ignore_errors=True)  # a half-made demo from an earlier failure
    fingerprint = generate_key(airgap / "gnupg", "DEMO Ombuds Office - NOT FOR REAL USE", "")
    public = airgap / "demo-public-key.asc"
    export_public_key(airgap / "gnupg", fingerprint, public)
    stop_agent(airgap / "gnupg")
    (airgap / "README-DEMO-ONLY.txt").write_text(
        "This folder holds a DEMO private key with no passphrase and the DEMO admin's\n"
        "credentials, beside the server only so the round trip can be tried on one\n"
        "machine. Never use them for real.\n"
    )
    initialize(data_dir, public, "Demo Ombuds Office")
    services = build_services(load_config(os.environ, config_path(data_dir)))
    admin = services.users.add(DEMO_ADMIN, is_admin=True)
    credentials = airgap / "demo-admin.json"
    fd = os.open(credentials, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(dataclasses.asdict(admin), f, indent=2)
    services.db.dispose()
    return airgap
