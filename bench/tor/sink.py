"""The bare baseline: an HTTP server that reads a POST body, drops it and answers 302.

Run as its own process (`python -m bench.tor.sink`), like the real server, so that the
benchmark's client and the server never share one interpreter. It binds 127.0.0.1 on a
free port and prints `port N` once it listens. Each answer says in X-Received-Bytes how
many body bytes it read, so the client can check that the whole file went through.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.common import MIB, BenchError

REPO = Path(__file__).resolve().parents[2]
CHUNK = MIB


class SinkHandler(BaseHTTPRequestHandler):
    """GET answers 200 (the reachability probe); POST reads the body and answers 302."""

    def do_GET(self) -> None:
        self._answer(200, {"Content-Type": "text/plain"}, b"bare sink\n")

    def do_POST(self) -> None:
        try:
            remaining = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._answer(411, {}, b"")
            return
        buffer = bytearray(CHUNK)
        view = memoryview(buffer)
        received = 0
        while remaining > 0:
            n = self.rfile.readinto(view[: min(remaining, CHUNK)])
            if not n:
                return  # the client went away
            received += n
            remaining -= n
        headers = {"Location": "/lookup", "X-Received-Bytes": str(received)}
        self._answer(302, headers, b"")

    def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle(self) -> None:
        # A client that went away (the benchmark was stopped) needs no answer, nor a traceback.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            super().handle()

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing: a line per request would only add work to the measured path."""


@dataclass
class Sink:
    """The sink's process and the loopback port it listens on."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_sink() -> Sink:
    """Start the sink process; return once it has printed the port it listens on."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.tor.sink"], cwd=REPO, stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    line = process.stdout.readline().decode(errors="replace").split()
    if len(line) != 2 or line[0] != "port" or not line[1].isdigit():
        process.kill()
        process.wait()
        raise BenchError(f"the bare sink did not start (it said {line!r})")
    return Sink(process, int(line[1]))


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), SinkHandler)
    print(f"port {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
