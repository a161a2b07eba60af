"""The product through real Tor: the source flow over the onion address, and the ombuds
interface open only to holders of a current client key (P6).

Everything goes through the private network's client tors (socks5h, so the client tor
resolves the .onion name), to the onion-service tor into which `sdlite onion up`
published both services, to real gunicorn servers.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
import requests

from securedrop_lite.airgap.decrypt import decrypt_file
from securedrop_lite.onion import auth_private_line, read_address
from tests.conftest import (
    VENV_BIN,
    HttpOmbuds,
    HttpSource,
    KeyPair,
    LiveServer,
    start_live_server,
    stop_live_server,
)
from tests.e2e.tornet import PrivateTorNetwork

REACH_TIMEOUT = 120.0  # descriptors propagate in seconds; a cold client may take longer
FILE_BYTES = 10 * 1024 * 1024
TEST_ENV = {"SDLITE_KDF_PROFILE": "insecure-test", "SDLITE_TESTING": "1"}


@dataclass
class OnionInstance:
    data_dir: Path
    source: LiveServer
    ombuds: LiveServer
    source_url: str
    ombuds_url: str
    env: dict[str, str]
    users: dict[str, dict[str, str]]

    def sdlite(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(VENV_BIN / "sdlite"), *argv, "--data-dir", str(self.data_dir)],
            capture_output=True, text=True, env=self.env, timeout=120, check=False,
        )  # fmt: skip


def through(network: PrivateTorNetwork, client: str, session: requests.Session) -> None:
    """Send every request of session through a client tor of the private network."""
    proxy = network.socks_url(client)
    session.proxies = {"http": proxy, "https": proxy}


def eventually(attempt: Callable[[], bool], what: str, timeout: float = REACH_TIMEOUT) -> float:
    """Retry attempt until it returns True; return the seconds it took, or fail."""
    started = time.monotonic()
    last: object = None
    while time.monotonic() - started < timeout:
        try:
            if attempt():
                return time.monotonic() - started
        except requests.RequestException as exc:
            last = exc
        time.sleep(1.0)
    pytest.fail(f"{what} within {timeout:.0f} s (last error: {last})")


def refused_by_tor(network: PrivateTorNetwork, client: str, url: str) -> str | None:
    """Return tor's SOCKS refusal for url through client, or None if the page was served."""
    try:
        requests.get(url, proxies={"http": network.socks_url(client)}, timeout=60)
    except requests.ConnectionError as exc:
        return str(exc)
    return None


# 0xF4: "onion service missing client authorization"; 0xF5: "wrong client authorization".
MISSING_AUTH = "0xf4"
WRONG_AUTH = "0xf5"


def served(network: PrivateTorNetwork, client: str, url: str) -> bool:
    """True if url answers 200 through client."""
    proxies = {"http": network.socks_url(client)}
    return requests.get(url, proxies=proxies, timeout=60).status_code == 200


def refused_for_auth(refusal: str | None) -> bool:
    """True if tor refused for want of a valid client key (not a transient circuit error)."""
    return refusal is not None and (
        MISSING_AUTH in refusal.lower() or WRONG_AUTH in refusal.lower()
    )


@pytest.fixture(scope="module")
def instance(
    tor_network: PrivateTorNetwork,
    instance_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OnionInstance]:
    """An instance published through the private network's onion-service tor."""
    work = tmp_path_factory.mktemp("onion-instance")
    data_dir = work / "data"
    shutil.copytree(instance_template, data_dir)
    env = {
        **os.environ,
        **TEST_ENV,
        "SDLITE_TOR_CONTROL": f"127.0.0.1:{tor_network.hs.control_port}",
    }
    source = start_live_server(data_dir, work, TEST_ENV, app="source")
    ombuds = start_live_server(data_dir, work, TEST_ENV, app="journalist")
    env["SDLITE_SOURCE_LISTEN"] = source.url.removeprefix("http://")
    env["SDLITE_OMBUDS_LISTEN"] = ombuds.url.removeprefix("http://")
    made = OnionInstance(data_dir, source, ombuds, "", "", env, {})
    try:
        up = made.sdlite("onion", "up")
        assert up.returncode == 0, up.stdout + up.stderr
        for name in ("alice", "bob"):
            added = made.sdlite("user", "add", name, "--json")
            assert added.returncode == 0, added.stderr
            made.users[name] = json.loads(added.stdout)
        status = made.sdlite("onion", "status")
        assert status.returncode == 0, status.stdout + status.stderr
        assert "2 client key(s)" in status.stdout
        made.source_url = f"http://{read_address(data_dir / 'onion' / 'source')}"
        made.ombuds_url = f"http://{read_address(data_dir / 'onion' / 'ombuds')}"
        # Each user's key goes into their own client, as the `user add` output says.
        for client, name in (("c1", "alice"), ("c2", "bob")):
            user = made.users[name]
            line = auth_private_line(user["onion_address"], user["onion_private_key"])
            tor_network.add_client_auth(client, f"{name}.auth_private", line)
        yield made
    finally:
        made.sdlite("onion", "down")
        stop_live_server(ombuds)
        stop_live_server(source)


def test_the_whole_source_flow_works_over_the_onion_address_with_a_10_mib_file(
    tor_network: PrivateTorNetwork, instance: OnionInstance, ombuds_key: KeyPair, tmp_path: Path
) -> None:
    source = HttpSource(instance.source_url)
    through(tor_network, "c0", source.http)
    reached = eventually(lambda: source.get("/").status_code == 200, "the source onion answered")
    print(f"\nsource onion reachable after {reached:.1f} s")
    assert source.get("/metadata").json()["onion_address"] == instance.source_url[7:]
    codename = source.signup()
    message = "The 1st AD shouts at the PAs every night; I have the call sheets. — Inés"
    document = os.urandom(FILE_BYTES)
    started = time.monotonic()
    response = source.submit(message, (io.BytesIO(document), "call sheet (final).pdf"))
    print(f"10 MiB submission over Tor: {time.monotonic() - started:.1f} s")
    assert response.status_code == 302, response.text[:500]

    # The ombuds (alice, through her own client) downloads and replies over her onion.
    ombuds = HttpOmbuds(instance.ombuds_url)
    through(tor_network, "c1", ombuds.http)
    eventually(lambda: ombuds.get("/login").status_code == 200, "the ombuds onion answered c1")
    assert ombuds.login(instance.users["alice"]).status_code == 302
    (ref,) = [p.name for p in (instance.data_dir / "store").iterdir() if p.name[0] != "."]
    msg, doc = ombuds.download_all(ref, tmp_path / "zip")
    assert decrypt_file(ombuds_key.airgap_home, msg, tmp_path / "plain").path.read_text() == message
    decrypted = decrypt_file(ombuds_key.airgap_home, doc, tmp_path / "plain")
    assert decrypted.original_name == "call sheet (final).pdf"
    assert hashlib.sha256(decrypted.path.read_bytes()).digest() == hashlib.sha256(document).digest()
    reply = "Thank you for writing. Nothing happens without your say-so."
    assert ombuds.post("/reply", {"source": ref, "message": reply}).status_code == 302

    # The worker comes back later, on a new circuit, and reads the reply.
    returning = HttpSource(instance.source_url)
    through(tor_network, "c0", returning.http)
    assert returning.login(codename).status_code == 302
    assert reply in returning.get("/lookup").text


def test_the_source_app_refuses_a_foreign_host_through_tor(
    tor_network: PrivateTorNetwork, instance: OnionInstance
) -> None:
    session = requests.Session()
    through(tor_network, "c0", session)
    eventually(lambda: session.get(instance.source_url + "/", timeout=60).ok, "source reachable")
    refused = session.get(instance.source_url + "/", headers={"Host": "evil.example"}, timeout=60)
    assert refused.status_code == 400
    assert "This site does not answer to that address." in refused.text


def test_the_ombuds_interface_needs_a_current_client_key(
    tor_network: PrivateTorNetwork, instance: OnionInstance
) -> None:
    login = instance.ombuds_url + "/login"
    # Served to alice's and bob's clients, each with their own key.
    for client in ("c1", "c2"):
        eventually(partial(served, tor_network, client, login), f"{client} was served")
    # Refused to a client without a key: tor itself cannot read the descriptor.
    refusal = refused_by_tor(tor_network, "c0", login)
    assert refusal is not None
    assert MISSING_AUTH in refusal.lower(), refusal

    deleted = instance.sdlite("user", "delete", "alice")
    assert deleted.returncode == 0, deleted.stderr
    assert "now admits 1 client key(s)" in deleted.stdout
    started = time.monotonic()

    def alice_refused() -> bool:
        # Her client still holds her key; from the deletion on it must never be served.
        refusal = refused_by_tor(tor_network, "c1", login)
        assert refusal is not None, "alice's client was served after her deletion"
        return refused_for_auth(refusal)

    took = eventually(alice_refused, "alice's client was refused for her key")
    print(f"\nalice refused {took:.1f} s after her deletion")
    assert refused_for_auth(refused_by_tor(tor_network, "c1", login))
    # Only her access stopped: bob, through his own client, is still served.
    eventually(partial(served, tor_network, "c2", login), "bob was still served")
    print(f"revocation checked in {time.monotonic() - started:.1f} s")
