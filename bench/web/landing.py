"""The source landing page `GET /` under wrk, taking turns with a bare Flask page.

Three targets, each loaded for the same time by the same wrk command line, round after
round (the order rotates, so no target always follows another):

* the bare page (the baseline): bench.web.bare through `securedrop_lite.serve.serve`;
* the landing page on a first visit: no cookie, as wrk sends by default;
* the landing page for a returning visitor: a fixed session cookie, taken from GET /login.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import requests
from sqlalchemy import func, select

from bench.common import BenchError
from bench.ombuds.pages import SqlCounter
from bench.proc import MachineCpu, cpu_seconds
from bench.server import Server
from bench.web.bare import MARKER
from bench.web.plan import SERVER_CPU, WARMUP_SECONDS
from bench.web.servers import pin
from bench.web.wrk import run_wrk
from securedrop_lite.config import Config
from securedrop_lite.models import WebSession
from securedrop_lite.services import Services
from securedrop_lite.web.session import COOKIE_NAME
from source_interface import create_app

TARGETS = {
    "bare": "bare Flask page (baseline)",
    "first": "GET / first visit (no cookie)",
    "returning": "GET / returning (cookie)",
}


@dataclass
class Target:
    name: str  # a key of TARGETS
    server: Server
    worker: int
    cookie: str | None


@dataclass
class LandingRun:
    round: int
    target: str
    requests_per_s: float
    requests: int
    seconds: float
    latency_p50_ms: float
    latency_p99_ms: float
    socket_errors: int
    worker_cpu_us_per_request: float
    wrk_cpu_seconds: float
    others_cpu_share: float  # CPU anything else used meanwhile, as a share of one CPU


@dataclass
class LandingResult:
    runs: list[LandingRun]
    session_rows_before: int
    session_rows_after: int
    statements_first_visit: list[str]
    statements_returning: list[str]
    pinned: bool


def session_rows(services: Services) -> int:
    with services.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(WebSession)) or 0)


def returning_cookie(server: Server) -> str:
    """Return the Cookie header of a visitor who has a session (GET /login makes one)."""
    browser = requests.Session()
    browser.get(server.url + "/login", timeout=30)
    token = browser.cookies.get(COOKIE_NAME)
    if token is None:
        raise BenchError("GET /login set no session cookie")
    return f"{COOKIE_NAME}={token}"


def check_page(target: Target) -> None:
    """Check that the target answers what wrk will count: the page, and no new cookie."""
    headers = {"Cookie": target.cookie} if target.cookie else {}
    response = requests.get(target.server.url + "/", headers=headers, timeout=30)
    expected = MARKER if target.name == "bare" else 'href="/generate"'
    if response.status_code != 200 or expected not in response.text:
        raise BenchError(f"{target.name}: GET / answered {response.status_code}")
    if "Set-Cookie" in response.headers:
        raise BenchError(f"{target.name}: GET / set a cookie: {response.headers['Set-Cookie']}")


def statements_per_request(config: Config, services: Services) -> tuple[list[str], list[str]]:
    """Return the SQL statements of one GET / in-process: on a first visit, then returning."""
    client = create_app(config, services).test_client()
    counter = SqlCounter(services.db.engine)
    try:
        found = []
        for _ in ("first", "returning"):
            client.get("/")  # the first request of an app also loads what it caches
            counter.reset()
            if client.get("/").status_code != 200:
                raise BenchError("in-process GET / failed")
            found.append(list(counter.statements))
            client.get("/login")  # now the client holds a session cookie
    finally:
        counter.close()
    return found[0], found[1]


def load_once(target: Target, seconds: int, pinned: bool, index: int) -> LandingRun:
    worker0 = cpu_seconds(target.worker)[0]
    machine0 = MachineCpu.now()
    done = run_wrk(target.server.url + "/", seconds, target.cookie, pinned)
    machine1 = MachineCpu.now()
    worker = cpu_seconds(target.worker)[0] - worker0
    others = machine1.others_since(machine0, worker, done.cpu_seconds)
    return LandingRun(
        round=index,
        target=target.name,
        requests_per_s=done.requests_per_s,
        requests=done.requests,
        seconds=done.seconds,
        latency_p50_ms=done.latency_p50_ms,
        latency_p99_ms=done.latency_p99_ms,
        socket_errors=done.socket_errors,
        worker_cpu_us_per_request=worker * 1e6 / max(done.requests, 1),
        wrk_cpu_seconds=done.cpu_seconds,
        others_cpu_share=max(others, 0.0) / done.seconds,
    )


def measure_landing(
    config: Config, services: Services, source: Server, bare: Server, rounds: int,
    seconds: int, pinned: bool,
) -> LandingResult:  # fmt: skip
    if pinned:
        for server in (source, bare):
            pin(server, SERVER_CPU)
    source_worker, bare_worker = source.worker_pid(), bare.worker_pid()
    targets = [
        Target("bare", bare, bare_worker, None),
        Target("first", source, source_worker, None),
        Target("returning", source, source_worker, returning_cookie(source)),
    ]
    for target in targets:
        check_page(target)
    first, returning = statements_per_request(config, services)
    rows_before = session_rows(services)
    for target in targets:
        run_wrk(target.server.url + "/", WARMUP_SECONDS, target.cookie, pinned)
    runs = []
    for index in range(1, rounds + 1):
        print(f"  landing round {index}/{rounds}:", end="", flush=True)
        for k in range(len(targets)):
            target = targets[(index - 1 + k) % len(targets)]
            time.sleep(0.5)  # let the previous load's connections close
            done = load_once(target, seconds, pinned, index)
            print(f" {target.name} {done.requests_per_s:.0f}/s", end="", flush=True)
            runs.append(done)
        print(flush=True)
    return LandingResult(runs, rows_before, session_rows(services), first, returning, pinned)
