"""The command line: `python -m bench.tor`."""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import sys
import time
from pathlib import Path
from types import FrameType

import requests

import bench.tor
from bench.common import OUT_DIR, BenchError, kill_agents, make_instance, read_through
from bench.ingest.run import random_file
from bench.ingest.upload import CHUNK
from bench.results_md import command_of
from bench.server import Server, clean_env, start_server
from bench.tor.onions import BareOnion, publish_sdlite, sdlite_onion, wait_reachable
from bench.tor.report import print_report, write_json
from bench.tor.results import BARE, FILE_MIB, LOOPBACK, MODULE, ONION, TorResult
from bench.tor.run import Setup, run_all
from bench.tor.sink import Sink, start_sink
from bench.tor.upload import Route, sign_up
from tests.e2e.tornet import PrivateTorNetwork, TorNetError, runs_torrc

DEFAULT_WORK = Path("/tmp/sdlite-bench-tor")
OUT_JSON = OUT_DIR / "tor.json"
CLIENT = "c0"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    description = (bench.tor.__doc__ or "").split("\n")[0]
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=description)
    parser.add_argument("--quick", action="store_true", help="3 runs instead of 5")
    parser.add_argument("--runs", type=int, help="runs of each route (default 5, --quick 3)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (and keys)")
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--json", type=Path, default=OUT_JSON, help="machine-readable output")
    args = parser.parse_args(argv)
    if args.runs is not None and args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def remove_work(work: Path) -> None:
    """Remove what this benchmark made in work, then work itself if nothing else is there."""
    for name in ("files", "airgap", "data", "server-tmp", "tornet", "decrypted"):
        shutil.rmtree(work / name, ignore_errors=True)
    (work / "server.log").unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        work.rmdir()


def stop_network(network: PrivateTorNetwork, result: TorResult) -> None:
    """Stop every tor by its PID; record any that needed SIGKILL or is somehow still there."""
    started = {node.pid: node.torrc for node in network.nodes if node.pid is not None}
    began = time.monotonic()
    try:
        network.stop()
    finally:
        result.killed_tors = list(network.killed)
        result.tors_left_running = [pid for pid, torrc in started.items() if runs_torrc(pid, torrc)]
    print(f"Private Tor network stopped in {time.monotonic() - began:.1f} s ({len(started)} tors)")


def withdraw_sdlite(data_dir: Path, network: PrivateTorNetwork, listen: str) -> None:
    try:
        sdlite_onion(data_dir, network, listen, "down")
    except BenchError as exc:
        print(f"warning: {exc}")


def publish(
    stack: contextlib.ExitStack[bool | None],
    network: PrivateTorNetwork,
    data_dir: Path,
    server: Server,
    sink: Sink,
    result: TorResult,
) -> dict[str, Route]:
    """Publish both onion services (withdrawn by the stack), wait until each answers."""
    listen = server.url.removeprefix("http://")
    sdlite_address = publish_sdlite(data_dir, network, listen)
    stack.callback(withdraw_sdlite, data_dir, network, listen)
    bare = BareOnion(network, sink.target)
    stack.callback(bare.remove)
    socks_port = network.client(CLIENT).socks_port
    routes = {
        BARE: Route(bare.address, socks_port),
        ONION: Route(sdlite_address, socks_port),
        LOOPBACK: Route(listen),
    }
    for name, path in ((BARE, "/"), (ONION, "/robots.txt")):
        try:
            result.reachable_seconds[name] = wait_reachable(routes[name], path)
        except BenchError as exc:
            raise BenchError(f"{exc}\nserver log:\n{server.log_text()[-3000:]}") from exc
        print(f"  {name} reachable after {result.reachable_seconds[name]:.1f} s")
    return routes


def measure(work: Path, runs: int, result: TorResult) -> None:
    """Set everything up, run, and take it all down again in reverse order, whatever happens."""
    with contextlib.ExitStack() as stack:
        instance = make_instance(work)
        stack.callback(kill_agents, [instance.airgap_home, instance.data_dir / "gnupg"])
        source_file = random_file(work / "files", FILE_MIB)
        read_through(source_file, bytearray(CHUNK))
        server = start_server("source", instance.data_dir, work, clean_env(), "/robots.txt")
        stack.callback(server.stop)
        sink = start_sink()
        stack.callback(sink.stop)

        network = PrivateTorNetwork(work / "tornet", clients=(CLIENT,))
        stack.callback(stop_network, network, result)
        print("Starting the private Tor network (3 authorities, 2 relays, hs, 1 client)...")
        network.start()
        result.network_timings = dict(network.timings)
        print(f"  ready in {network.timings['ready']:.1f} s")

        routes = publish(stack, network, instance.data_dir, server, sink, result)
        browsers = {name: sign_up(routes[name]) for name in (ONION, LOOPBACK)}
        browsers[BARE] = routes[BARE].session()
        for browser in browsers.values():
            stack.callback(browser.close)
        print(f"Sources signed up; {runs} runs of a {FILE_MIB} MiB POST along each route")
        setup = Setup(
            instance=instance,
            source_file=source_file,
            routes=routes,
            browsers=browsers,
            server_pid=server.worker_pid(),
            sink_pid=sink.process.pid,
            tor_pids={n.name: n.pid for n in network.nodes if n.pid is not None},
            work=work,
            client_controller=stack.enter_context(network.client(CLIENT).controller()),
            service_controller=stack.enter_context(network.hs.controller()),
            fresh_circuits=lambda: network.new_identity(CLIENT),
        )
        run_all(setup, result, runs)


def interrupt(signum: int, frame: FrameType | None) -> None:
    """Turn a SIGTERM into a KeyboardInterrupt, so that every tor is stopped on the way out."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    runs = args.runs or (3 if args.quick else 5)
    work: Path = args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    print(f"Tor benchmark in {work}: {FILE_MIB} MiB, {runs} runs")
    result = TorResult()
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        measure(work, runs, result)
    except (BenchError, TorNetError, requests.RequestException) as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
        if not args.keep:
            remove_work(work)
        if result.tors_left_running:
            print(f"error: tors still running: {result.tors_left_running}", file=sys.stderr)
    print_report(result)
    write_json(result, args.json, args.quick, command_of(MODULE, argv))
    print(f"\nWrote {args.json}")
    return 1 if result.tors_left_running else 0


if __name__ == "__main__":
    sys.exit(main())
