"""How much the web benchmark measures, how wrk loads the servers, and the target."""

from __future__ import annotations

from dataclasses import dataclass

LANDING_RATIO_TARGET = 0.5  # landing page req/s / bare page req/s (the target)
# The servers run as bench/server.start_server runs `sdlite serve`: one gthread worker.
WORKERS = 1
THREADS = 4
# wrk: one thread, a fixed number of keep-alive connections (twice the server's threads,
# so that a thread never waits for the client), and a short warm-up not counted.
WRK_THREADS = 1
WRK_CONNECTIONS = 8
WARMUP_SECONDS = 2
# With pinning, the servers share one CPU and wrk has the other, so that the client never
# takes CPU time from the server it measures. A gthread worker runs Python on one CPU at
# a time anyway (the GIL).
SERVER_CPU = 1
CLIENT_CPU = 0


@dataclass(frozen=True)
class Plan:
    login_runs: int
    landing_rounds: int
    wrk_seconds: int


FULL_PLAN = Plan(login_runs=7, landing_rounds=5, wrk_seconds=10)
QUICK_PLAN = Plan(login_runs=3, landing_rounds=3, wrk_seconds=3)
