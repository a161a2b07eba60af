"""The three servers of the web benchmark, and pinning them to one CPU."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.common import BenchError
from bench.server import START_SECONDS, VENV_BIN, Server, clean_env, free_port, start_server
from bench.web.plan import THREADS, WORKERS

# `sdlite serve` prints this when the instance runs the fast test KDF profile.
_TEST_KDF_WARNING = "insecure test KDF profile"


@dataclass
class Servers:
    source: Server
    journalist: Server
    bare: Server

    def all(self) -> list[Server]:
        return [self.source, self.journalist, self.bare]

    def stop(self) -> None:
        for server in self.all():
            server.stop()


def start_bare(work: Path, env: dict[str, str]) -> Server:
    """Start bench.web.bare as start_server starts `sdlite serve`: same worker and threads."""
    temp_dir = work / "server-tmp"
    shutil.rmtree(temp_dir, ignore_errors=True)
    temp_dir.mkdir(parents=True)
    log_path = work / "server.log"
    port = free_port()
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [str(VENV_BIN / "python"), "-m", "bench.web.bare", "--bind", f"127.0.0.1:{port}",
             "--workers", str(WORKERS), "--threads", str(THREADS)],
            stdout=log, stderr=subprocess.STDOUT, env={**env, "TMPDIR": str(temp_dir)},
            cwd=Path(__file__).resolve().parents[2],
        )  # fmt: skip
    server = Server(process, port, temp_dir, log_path)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"bare server exited:\n{server.log_text()}")
        try:
            requests.get(server.url + "/", timeout=1)
            return server
        except requests.ConnectionError:
            time.sleep(0.1)
    server.stop()
    raise BenchError(f"bare server did not start within {START_SECONDS} s")


def start_servers(data_dir: Path, work: Path) -> Servers:
    """Start both apps with the default KDF profile (no SDLITE_* at all), and the bare page."""
    env = clean_env()
    started: list[Server] = []
    try:
        started.append(start_server("source", data_dir, work / "source", env, "/robots.txt"))
        started.append(start_server("journalist", data_dir, work / "journalist", env, "/login"))
        started.append(start_bare(work / "bare", env))
    except BaseException:
        for server in started:
            server.stop()
        raise
    servers = Servers(*started)
    for server in servers.all()[:2]:
        if _TEST_KDF_WARNING in server.log_text():
            servers.stop()
            raise BenchError("the server runs the test KDF profile; logins would be meaningless")
    return servers


def pin(server: Server, cpu: int) -> None:
    """Pin every thread of the server's arbiter and worker to one CPU.

    Threads started later (gthread starts its pool on demand) inherit the affinity.
    """
    for pid in (server.process.pid, server.worker_pid()):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(ProcessLookupError):  # a thread that just ended
                os.sched_setaffinity(int(task), {cpu})
