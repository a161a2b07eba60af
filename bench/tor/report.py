"""The Tor benchmark's tables, warnings and JSON."""

from __future__ import annotations

import subprocess
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.ingest.upload import CHUNK
from bench.report import document_head, print_header, warn_if_busy, write_document
from bench.tor.results import BARE, FILE_MIB, LOOPBACK, ONION, ROUTES, TorResult
from tests.e2e.tornet import find_binary

KDF_NOTE = "default KDF profile (Argon2id runs at signup only, outside the timed POST)"
SERVER = "sdlite serve source --workers 1 --threads 4"


def print_network(result: TorResult) -> None:
    timings = result.network_timings
    print()
    print(
        f"Private Tor network started in {timings.get('ready', 0.0):.1f} s (keys "
        f"{timings.get('keys', 0.0):.1f} s, complete consensus {timings.get('consensus', 0.0):.1f}"
        " s, onion-service and client tors bootstrapped at the end)"
    )
    for route, seconds in result.reachable_seconds.items():
        print(f"  {route}: reachable {seconds:.1f} s after publication")


def print_times(result: TorResult) -> None:
    summaries = {route: result.summary(route) for route in ROUTES}
    bare = summaries[BARE]["seconds_median"]
    runs = summaries[ONION]["runs"]
    print()
    print(f"{FILE_MIB} MiB POST /submit, first request byte to the 302 ({runs} runs, alternating)")
    print_header(
        f"{'route':<16} {'median s':>8} {'min':>6} {'max':>6} {'MiB/s':>6} "
        f"{'send s':>6} {'tail s':>6} {'x bare onion':>12}"
    )
    for route, s in summaries.items():
        print(
            f"{route:<16} {s['seconds_median']:>8.2f} {s['seconds_min']:>6.2f} "
            f"{s['seconds_max']:>6.2f} {s['mib_per_s']:>6.2f} {s['send_seconds_median']:>6.2f} "
            f"{s['tail_seconds_median']:>6.2f} {s['seconds_median'] / bare:>12.2f}"
        )
    onion, loopback = summaries[ONION]["seconds_median"], summaries[LOOPBACK]["seconds_median"]
    print(f"  ratio sdlite onion / bare onion: {onion / bare:.2f} (what the application costs)")
    print(f"  ratio sdlite onion / sdlite loopback: {onion / loopback:.2f} (what Tor costs)")
    for route in (BARE, ONION):
        hops = ", ".join(str(h) for h in summaries[route]["hops_per_run"])
        print(f"  {route}: relay hops between the two tors, run by run: {hops}")
    print("  (fresh circuits every run: NEWNYM on the client tor, which also drops its")
    print("   descriptor cache; the connection is made before the timing starts)")
    print("  (send: until the last body byte was handed to the socket; tail: from then to the")
    print("   302. Over Tor the client tor and the kernel buffer part of the body, so the")
    print("   transfer falls in both, in varying shares)")


def print_cpu(result: TorResult) -> None:
    print()
    print("CPU seconds during the POST (medians)")
    print_header(
        f"{'route':<16} {'client':>6} {'tors':>6} {'server':>6} {'others':>6} {'of a CPU':>8}"
    )
    for route in ROUTES:
        s = result.summary(route)
        others = max(s["others_cpu_seconds_median"], 0.0)
        print(
            f"{route:<16} {s['client_cpu_seconds_median']:>6.2f} "
            f"{s['tor_cpu_seconds_median']:>6.2f} {s['server_cpu_seconds_median']:>6.2f} "
            f"{others:>6.2f} {others / s['seconds_median']:>8.0%}"
        )
        warn_if_busy(s["others_share_max"], indent=" " * 17)
    print("  (tors: all the private network's tors, which all run on this machine; server:")
    print("   the gunicorn worker and its gpg, or the bare sink; others: the rest of the")
    print("   machine, i.e. other programs and kernel work that no process is charged for)")


def print_checks(result: TorResult) -> None:
    v = result.verification
    print()
    print(
        f"Correctness check ({v['route']}, first run): {'ok' if v['ok'] else 'FAILED'}: "
        f"{v['stored_file']} ({v['ciphertext_bytes']} bytes) decrypts with the air-gap key to "
        f"the same SHA-256 and file name"
    )
    left = result.tors_left_running
    killed = f"; SIGKILL needed for {', '.join(result.killed_tors)}" if result.killed_tors else ""
    print(f"Tors left running after the stop: {left or 'none'}{killed}")


def print_report(result: TorResult) -> None:
    print_network(result)
    print_times(result)
    print_cpu(result)
    print_checks(result)


def tor_version() -> str:
    done = subprocess.run([find_binary("tor"), "--version"], capture_output=True, check=False)
    return done.stdout.decode(errors="replace").splitlines()[0] if done.stdout else "?"


def write_json(result: TorResult, path: Path, quick: bool, command: str) -> None:
    document: dict[str, Any] = {
        **document_head("tor", tor=tor_version()),
        "settings": {
            "quick": quick,
            "file_mib": FILE_MIB,
            "server": f"{SERVER}, {KDF_NOTE}",
            "chunk_bytes": CHUNK,
            "route_order": f"run 1: {', '.join(ROUTES)}; each later run starts one route later",
            "client": "one client tor, SOCKS5 with the onion name resolved by tor (socks5h)",
        },
        "figures": result.figures(command),
        "network_timings_seconds": result.network_timings,
        "reachable_after_publication_seconds": result.reachable_seconds,
        "summaries": [result.summary(route) for route in ROUTES],
        "verification": result.verification,
        "killed_tors": result.killed_tors,
        "tors_left_running": result.tors_left_running,
        "runs": [asdict(run) for run in result.runs],
    }
    write_document(path, document)
