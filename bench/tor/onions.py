"""The two onion services on the private network's onion-service tor, and their reachability.

sdlite's source service is published the way an operator publishes it, `sdlite onion up`
with tor_control pointing at that tor. The bare sink gets a throwaway key by ADD_ONION
with the options sdlite gives its source service, so the only difference between the two
routes is the application behind them. Both go away at the end (`sdlite onion down`,
DEL_ONION), before the network stops.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import requests
import stem
from stem.control import Controller

from bench.common import BenchError
from bench.server import VENV_BIN, clean_env
from bench.tor.upload import Route
from securedrop_lite.onion import read_address
from securedrop_lite.onion.publisher import MAX_STREAMS_PER_CIRCUIT, VIRTUAL_PORT
from tests.e2e.tornet import PrivateTorNetwork

REACH_TIMEOUT = 120.0  # descriptors propagate in seconds; a cold client may take longer


def sdlite_onion(data_dir: Path, network: PrivateTorNetwork, listen: str, command: str) -> str:
    """Run `sdlite onion up|down` against the network's onion-service tor; return its output."""
    env = {
        **clean_env(),
        "SDLITE_TOR_CONTROL": f"127.0.0.1:{network.hs.control_port}",
        "SDLITE_SOURCE_LISTEN": listen,
    }
    done = subprocess.run(
        [str(VENV_BIN / "sdlite"), "onion", command, "--data-dir", str(data_dir)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise BenchError(f"sdlite onion {command} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def publish_sdlite(data_dir: Path, network: PrivateTorNetwork, listen: str) -> str:
    """Publish the instance's source service to forward to listen; return its onion address."""
    sdlite_onion(data_dir, network, listen, "up")
    address = read_address(data_dir / "onion" / "source")
    if address is None:
        raise BenchError("`sdlite onion up` left no source onion address")
    return address


class BareOnion:
    """A throwaway onion service for the bare sink, held by one control connection."""

    def __init__(self, network: PrivateTorNetwork, target: str) -> None:
        self._controller: Controller = network.hs.controller()
        try:
            # What sdlite's publisher sends for the source service (PoW is on by default),
            # with a new key that tor makes and forgets (DiscardPK) and without Detach: the
            # service ends with this connection even if DEL_ONION is never sent.
            reply = self._controller.msg(
                "ADD_ONION NEW:ED25519-V3 Flags=DiscardPK "
                f"Port={VIRTUAL_PORT},{target} MaxStreams={MAX_STREAMS_PER_CIRCUIT} "
                "PoWDefensesEnabled=1"
            )
            if not reply.is_ok():
                raise BenchError(f"tor refused ADD_ONION for the sink: {reply}")
            found = [line.split("=", 1)[1] for line in str(reply).splitlines()
                     if line.startswith("ServiceID=")]  # fmt: skip
            if len(found) != 1:
                raise BenchError(f"no ServiceID in tor's answer: {reply}")
            self.service_id = found[0]
        except BaseException:
            self._controller.close()
            raise

    @property
    def address(self) -> str:
        return f"{self.service_id}.onion"

    def remove(self) -> None:
        """DEL_ONION, then close the control connection (which would end it anyway)."""
        try:
            self._controller.msg(f"DEL_ONION {self.service_id}")
        except stem.ControllerError as exc:
            print(f"warning: DEL_ONION of the bare sink failed: {exc}")
        finally:
            self._controller.close()


def wait_reachable(route: Route, path: str) -> float:
    """GET path through route until it answers 200; return the seconds that took."""
    started = time.monotonic()
    last: object = None
    with route.session() as session:
        while time.monotonic() - started < REACH_TIMEOUT:
            try:
                status = session.get(route.base_url + path, timeout=60).status_code
                if status == 200:
                    return time.monotonic() - started
                last = f"HTTP {status}"
            except requests.RequestException as exc:
                last = exc
            time.sleep(1.0)
    raise BenchError(f"{route.host} not reachable in {REACH_TIMEOUT:.0f} s (last: {last})")
