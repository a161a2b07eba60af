"""Run wrk against one URL, and read what it printed."""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
from dataclasses import dataclass

from bench.common import BenchError
from bench.web.plan import CLIENT_CPU, WRK_CONNECTIONS, WRK_THREADS

_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_TOTAL = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_PERCENTILE = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)", re.MULTILINE)
_TO_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass
class WrkResult:
    requests_per_s: float
    requests: int
    seconds: float
    latency_p50_ms: float
    latency_p99_ms: float
    non_2xx: int
    socket_errors: int
    cpu_seconds: float  # wrk's own, user + system


def wrk_command(url: str, seconds: int, cookie: str | None, pinned: bool) -> list[str]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise BenchError("wrk is not installed: apt-get install wrk")
    command = [wrk, f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{seconds}s", "--latency"]
    if cookie is not None:
        command += ["-H", f"Cookie: {cookie}"]
    command.append(url)
    if pinned:
        command = ["taskset", "-c", str(CLIENT_CPU), *command]
    return command


def parse(output: str) -> tuple[float, int, float, dict[str, float], int, int]:
    """Return req/s, requests, seconds, latency percentiles, non-2xx and socket errors."""
    rps, total = _RPS.search(output), _TOTAL.search(output)
    if rps is None or total is None:
        raise BenchError(f"could not read wrk's output:\n{output}")
    non_2xx = _NON_2XX.search(output)
    socket = _SOCKET.search(output)
    latency = {p: float(v) * _TO_MS[unit] for p, v, unit in _PERCENTILE.findall(output)}
    return (
        float(rps.group(1)),
        int(total.group(1)),
        float(total.group(2)) * _TO_MS[total.group(3)] / 1000,
        latency,
        int(non_2xx.group(1)) if non_2xx else 0,
        sum(int(n) for n in socket.groups()) if socket else 0,
    )


def run_wrk(url: str, seconds: int, cookie: str | None = None, pinned: bool = True) -> WrkResult:
    """Load url for seconds; refuse a run in which any answer was not a 2xx or 3xx."""
    command = wrk_command(url, seconds, cookie, pinned)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise BenchError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    rps, requests, elapsed, latency, non_2xx, socket_errors = parse(done.stdout)
    if non_2xx:
        raise BenchError(f"{non_2xx} answers were not 2xx or 3xx:\n{done.stdout}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return WrkResult(
        requests_per_s=rps,
        requests=requests,
        seconds=elapsed,
        latency_p50_ms=latency.get("50", 0.0),
        latency_p99_ms=latency.get("99", 0.0),
        non_2xx=non_2xx,
        socket_errors=socket_errors,
        cpu_seconds=cpu,
    )
