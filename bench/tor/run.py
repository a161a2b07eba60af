"""The runs: each one POSTs the file along the three routes in turn, and checks what arrived."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from stem.control import Controller

from bench.common import BenchError, Instance, csrf_token
from bench.ingest.checks import sha256_file, stored_docs
from bench.proc import MachineCpu, cpu_seconds
from bench.tor.circuits import client_path, service_path
from bench.tor.results import BARE, ROUTES, RouteRun, TorResult
from bench.tor.upload import Posted, Route, cookie_header, lookup_page, post_file
from securedrop_lite.airgap.decrypt import decrypt_file


@dataclass
class Setup:
    """What every run uses: the file, the routes, the sources' sessions, the processes."""

    instance: Instance
    source_file: Path
    routes: dict[str, Route]
    browsers: dict[str, requests.Session]  # per route: a signed-up source, or a bare session
    server_pid: int  # the gunicorn worker
    sink_pid: int
    tor_pids: dict[str, int]
    work: Path
    client_controller: Controller
    service_controller: Controller
    fresh_circuits: Callable[[], None]  # NEWNYM on the client tor, rate limit waited out

    @property
    def store(self) -> Path:
        return self.instance.data_dir / "store"


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU seconds used so far by the machine, this process, the tors and both servers."""

    machine: MachineCpu
    tors: float
    server: float  # worker's own plus its reaped children's (gpg)
    sink: float

    @classmethod
    def take(cls, setup: Setup) -> CpuSnapshot:
        try:
            tors = sum(cpu_seconds(pid)[0] for pid in setup.tor_pids.values())
            server = sum(cpu_seconds(setup.server_pid))
            sink = cpu_seconds(setup.sink_pid)[0]
        except FileNotFoundError as exc:
            raise BenchError(f"a process of the benchmark died: {exc.filename}") from exc
        return cls(MachineCpu.now(), tors, server, sink)


def post_once(setup: Setup, name: str, run: int) -> tuple[RouteRun, Posted]:
    """POST the file along one route; the form's token and the connection come first, untimed."""
    route = setup.routes[name]
    browser = setup.browsers[name]
    # Every route first carries a small page over the same circuit, so that none starts
    # its POST on a circuit that has never been used. The sink reads no form and sets no
    # cookie: any token does.
    page = lookup_page(route, browser)
    token = "bare-sink" if name == BARE else csrf_token(page)
    cookie = cookie_header(browser)
    started = time.perf_counter()
    connection = route.connect()
    connect_seconds = time.perf_counter() - started
    paths: tuple[list[str], list[str]] = ([], [])
    if route.service_id is not None:
        paths = (
            client_path(setup.client_controller, route.host),
            service_path(setup.service_controller, route.service_id),
        )
    before = CpuSnapshot.take(setup)
    posted = post_file(connection, cookie, token, setup.source_file)
    after = CpuSnapshot.take(setup)
    tors, sink = after.tors - before.tors, after.sink - before.sink
    server = sink if name == BARE else after.server - before.server
    measured = RouteRun(
        route=name,
        run=run,
        seconds=posted.seconds,
        send_seconds=posted.send_seconds,
        tail_seconds=posted.seconds - posted.send_seconds,
        connect_seconds=connect_seconds,
        client_cpu_seconds=posted.client_cpu_seconds,
        tor_cpu_seconds=tors,
        server_cpu_seconds=server,
        # The idle process (the sink, or the worker) is counted with the others.
        others_cpu_seconds=after.machine.others_since(before.machine, tors, server),
        client_path=paths[0],
        service_path=paths[1],
    )
    return measured, posted


def check_bare(posted: Posted) -> None:
    if posted.status != 302 or posted.received_bytes != posted.body_bytes:
        raise BenchError(
            f"the sink answered {posted.status} and read {posted.received_bytes} of "
            f"{posted.body_bytes} bytes"
        )


def check_sdlite(setup: Setup, posted: Posted, before: set[Path]) -> Path:
    """Check the answer is the 302 to /lookup and exactly one document was stored; return it."""
    if posted.status != 302 or not posted.location.endswith("/lookup"):
        raise BenchError(f"/submit answered {posted.status} {posted.location!r}")
    new = stored_docs(setup.store) - before
    if len(new) != 1:
        raise BenchError(f"expected one new stored document, found {sorted(new)}")
    return new.pop()


def verify(setup: Setup, stored: Path) -> dict[str, Any]:
    """Decrypt the stored document with the air-gap key, as the ombuds would; compare."""
    out = setup.work / "decrypted"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    try:
        decrypted = decrypt_file(setup.instance.airgap_home, stored, out)
        plain_digest = sha256_file(decrypted.path)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    sent_digest = sha256_file(setup.source_file)
    result = {
        "stored_file": str(stored.relative_to(setup.instance.data_dir)),
        "ciphertext_bytes": stored.stat().st_size,
        "plaintext_sha256": sent_digest,
        "decrypted_sha256": plain_digest,
        "original_name": decrypted.original_name,
        "same_sha256": plain_digest == sent_digest,
        "same_name": decrypted.original_name == setup.source_file.name,
    }
    result["ok"] = result["same_sha256"] and result["same_name"]
    if not result["ok"]:
        raise BenchError(f"the stored submission does not decrypt to what was sent: {result}")
    return result


def run_all(setup: Setup, result: TorResult, runs: int) -> None:
    """Take the three routes in turn on fresh circuits, runs times; check one submission."""
    for index in range(1, runs + 1):
        setup.fresh_circuits()
        print(f"  run {index}/{runs}:", end="", flush=True)
        # Each run starts one route later, so that no route always comes first after the
        # NEWNYM (when the client tor is also building its new circuits) or always last.
        shift = (index - 1) % len(ROUTES)
        order = ROUTES[shift:] + ROUTES[:shift]
        for name in order:
            before = stored_docs(setup.store)
            measured, posted = post_once(setup, name, index)
            hops = f" ({measured.hops} hops)" if measured.hops else ""
            print(f" {name} {measured.seconds:.2f} s{hops}",
                  end=";" if name != order[-1] else "\n", flush=True)  # fmt: skip
            if name == BARE:
                check_bare(posted)
            else:
                stored = check_sdlite(setup, posted, before)
                if not result.verification:
                    result.verification = {"route": name, **verify(setup, stored)}
                stored.unlink()  # bound disk use; the checks above are done
            result.runs.append(measured)
