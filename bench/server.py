"""The real server, `sdlite serve source|journalist`, as a gunicorn process with one worker."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.common import BenchError
from bench.proc import children

VENV_BIN = Path(sys.executable).parent
START_SECONDS = 120  # a busy machine (the Tor benchmark runs nine tors) answers late


def clean_env() -> dict[str, str]:
    """Return our environment without any SDLITE_* of the caller's."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SDLITE_")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    temp_dir: Path
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pid(self) -> int:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = children(self.process.pid)
            if len(found) == 1:
                return found[0]
            time.sleep(0.1)
        raise BenchError(f"expected one gunicorn worker, found {children(self.process.pid)}")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_server(
    app: str, data_dir: Path, work: Path, env: dict[str, str], ready_path: str
) -> Server:
    """Start `sdlite serve <app>` with env plus its own TMPDIR; wait until ready_path answers.

    One gthread worker with 4 threads, logging to work/server.log; the TMPDIR is
    work/server-tmp, emptied first, so that a benchmark can check what the server left there.
    """
    temp_dir = work / "server-tmp"
    shutil.rmtree(temp_dir, ignore_errors=True)
    temp_dir.mkdir(parents=True)
    log_path = work / "server.log"
    port = free_port()
    with log_path.open("ab") as log:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [str(VENV_BIN / "sdlite"), "serve", app, "--data-dir", str(data_dir),
             "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4"],
            stdout=log, stderr=subprocess.STDOUT, env={**env, "TMPDIR": str(temp_dir)},
        )  # fmt: skip
    server = Server(process, port, temp_dir, log_path)
    deadline = time.monotonic() + START_SECONDS
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise BenchError(f"server exited:\n{server.log_text()}")
            try:
                requests.get(server.url + ready_path, timeout=5)
                return server
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.1)
        raise BenchError(f"server did not start within {START_SECONDS} s")
    except BaseException:
        server.stop()  # never leave a server behind a failed start
        raise
