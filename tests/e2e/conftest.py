"""The private Tor network, started once per test run and stopped at its end."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.tornet import PrivateTorNetwork, runs_torrc

# c0 holds no client key; c1 and c2 are two ombuds users' Tor Browsers.
CLIENTS = ("c0", "c1", "c2")


@pytest.fixture(scope="session")
def tor_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateTorNetwork]:
    """Authorities, relays, the onion-service tor and three clients, all on 127.0.0.1."""
    network = PrivateTorNetwork(tmp_path_factory.mktemp("tornet"), clients=CLIENTS)
    pids: dict[int, Path] = {}
    try:
        network.start()
        timings = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in network.timings.items())
        print(f"\nprivate Tor network started: {timings}")
        pids = {node.pid: node.torrc for node in network.nodes if node.pid is not None}
        yield network
    finally:
        began = time.monotonic()
        network.stop()
        print(f"\nprivate Tor network stopped in {time.monotonic() - began:.1f} s")
    # Every tor we started is gone (tor sometimes ignores SIGTERM; stop() kills it).
    assert not [pid for pid, torrc in pids.items() if runs_torrc(pid, torrc)]
