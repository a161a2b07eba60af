"""tornet end to end: a private Tor network serves onion services, with and without client auth.

Run with -s to see how long the network took to start.
"""

from __future__ import annotations

import base64
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from stem.control import Controller

from tests.e2e.tornet import PrivateTorNetwork

BODY = "hello from behind the onion\n"
PROPAGATION = 60.0  # seconds a new descriptor may take to reach the client (pitfall 10)
MISSING_CLIENT_AUTH = "0xf4"  # tor's extended SOCKS5 error (ExtendedErrors)

Outcome = tuple[int | None, str]  # (HTTP status, body) or (None, error)


class Hello(BaseHTTPRequestHandler):
    """Answers every GET with BODY."""

    def do_GET(self) -> None:
        body = BODY.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture(scope="module")
def web_port() -> Iterator[int]:
    """A tiny HTTP server on 127.0.0.1, the target of the onion services."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(scope="module")
def network(tor_network: PrivateTorNetwork) -> PrivateTorNetwork:
    """The session's private network (tests/e2e/conftest.py), which has c0 and c1."""
    return tor_network


def fetch(url: str, proxy: str) -> Outcome:
    """GET url through a client tor."""
    try:
        response = requests.get(url, proxies={"http": proxy}, timeout=30)
    except requests.RequestException as exc:
        return None, str(exc)
    return response.status_code, response.text


def fetch_until(url: str, proxy: str, done: Callable[[Outcome], bool]) -> Outcome:
    """Retry while the descriptor propagates; return the first accepted outcome, or the last."""
    end = time.monotonic() + PROPAGATION
    while True:
        began = time.monotonic()
        outcome = fetch(url, proxy)
        if done(outcome) or time.monotonic() > end:
            result = outcome[0] or outcome[1][-60:]
            print(f"\n{url[7:19]}... via {proxy}: {result} in {time.monotonic() - began:.2f} s")
            return outcome
        time.sleep(1)


def served(outcome: Outcome) -> bool:
    """True if the onion service answered."""
    return outcome[0] == 200


def b32(raw: bytes) -> str:
    """Base32 without padding, as tor writes x25519 keys."""
    return base64.b32encode(raw).decode().rstrip("=")


def new_service(ctl: Controller, port: int, client_auth_v3: str | None = None) -> str:
    """Publish an ephemeral v3 onion service for 127.0.0.1:port; return its URL."""
    service = ctl.create_ephemeral_hidden_service(
        {80: f"127.0.0.1:{port}"},
        key_type="NEW",
        key_content="ED25519-V3",
        await_publication=True,
        timeout=120,
        client_auth_v3=client_auth_v3,
    )
    return f"http://{service.service_id}.onion/"


def test_an_onion_service_answers_through_a_client(
    network: PrivateTorNetwork, web_port: int
) -> None:
    with network.hs.controller() as ctl:  # the service ends when this connection closes
        url = new_service(ctl, web_port)
        assert fetch_until(url, network.socks_url("c0"), served) == (200, BODY)
        network.new_identity("c0")  # new circuits, the descriptor fetched again
        assert fetch_until(url, network.socks_url("c0"), served) == (200, BODY)


def test_client_authorization(network: PrivateTorNetwork, web_port: int) -> None:
    key = X25519PrivateKey.generate()
    with network.hs.controller() as ctl:
        url = new_service(ctl, web_port, client_auth_v3=b32(key.public_key().public_bytes_raw()))
        address = url[len("http://") : -len(".onion/")]

        status, error = fetch_until(
            url, network.socks_url("c0"), lambda o: served(o) or MISSING_CLIENT_AUTH in o[1]
        )
        assert status is None
        assert MISSING_CLIENT_AUTH in error  # refused for want of a key, not for a slow HSDir

        line = f"{address}:descriptor:x25519:{b32(key.private_bytes_raw())}"
        network.add_client_auth("c1", "smoke.auth_private", line)
        key_file = network.client("c1").data_dir / "onion_auth" / "smoke.auth_private"
        assert key_file.stat().st_mode & 0o777 == 0o600
        assert fetch_until(url, network.socks_url("c1"), served) == (200, BODY)


def socket_inodes(pid: int) -> set[str]:
    """The inodes of the sockets process pid has open."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            found = re.fullmatch(r"socket:\[(\d+)\]", os.readlink(fd))
        except OSError:
            continue  # closed meanwhile
        if found:
            inodes.add(found.group(1))
    return inodes


def decode_address(hex_address: str) -> str:
    """Turn /proc/net's hex address (host byte order, per 32-bit word) into text."""
    raw = bytes.fromhex(hex_address.split(":")[0])
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6
    return f"{socket.inet_ntop(family, words)}:{int(hex_address.split(':')[1], 16)}"


@dataclass(frozen=True)
class Sock:
    """One socket of a tor, from /proc/net."""

    pid: int
    proto: str
    listening: bool
    local: str
    remote: str


def tor_sockets(pids: list[int]) -> list[Sock]:
    """Every TCP and UDP socket (IPv4 and IPv6) that these processes hold."""
    owner = {inode: pid for pid in pids for inode in socket_inodes(pid)}
    found = []
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        for line in Path(f"/proc/net/{proto}").read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            if inode in owner:
                listens = state == "0A" or proto.startswith("udp")  # 0A: TCP LISTEN
                address = decode_address(local), decode_address(remote)
                found.append(Sock(owner[inode], proto, listens, *address))
    return found


def loopback(address: str) -> bool:
    """True for an address in 127.0.0.0/8."""
    return address.startswith("127.")


def test_tors_use_only_loopback(network: PrivateTorNetwork) -> None:
    pids = [node.pid for node in network.nodes if node.pid is not None]
    assert len(pids) == len(network.nodes)
    sockets = tor_sockets(pids)
    listeners = [s for s in sockets if s.listening]
    outside = [s for s in listeners if s.proto != "tcp" or not loopback(s.local)]
    assert not outside, f"listening outside 127.0.0.0/8: {outside}"
    ports = {int(s.local.rsplit(":", 1)[1]) for s in listeners}
    assert {node.control_port for node in network.nodes} <= ports  # the scan saw them
    assert network.client("c0").socks_port in ports
    # and every connection, between the tors or to this process, stays on loopback
    connected = [s for s in sockets if not s.listening]
    assert connected
    assert not [s for s in connected if not (loopback(s.local) and loopback(s.remote))]
