"""Debian's PostgreSQL, started for one test run in a temporary folder, on 127.0.0.1 only.

`SDLITE_TEST_DATABASE=postgresql pytest` runs the suite against it: every test gets a
fresh database made from a migrated template (CREATE DATABASE ... TEMPLATE is a file copy,
about as fast as the SQLite file copy the default run makes).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

START_SECONDS = 60
SERVICE_USER = "postgres"  # initdb refuses to run as root


def server_binaries() -> Path:
    """The newest installed server's bin folder; a missing server fails loudly."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not found:
        raise RuntimeError(
            "PostgreSQL is not installed: install Debian's postgresql package (make test does)"
        )
    return found[-1].parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """One throwaway cluster: trust authentication, loopback TCP only, no fsync.

    Neither trust nor fsync=off is for a real server: this one lives for one test run,
    holds only test data, and listens on 127.0.0.1 alone.
    """

    def __init__(self) -> None:
        # Outside pytest's folders, which are 0700 root: the server user must reach its own.
        self.base = Path(tempfile.mkdtemp(prefix="sdlite-postgres-"))
        self.data = self.base / "cluster"
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.base / "postgres.log"

    def _as_service_user(self, command: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return command
        return ["runuser", "-u", SERVICE_USER, "--", *command]

    def start(self) -> None:
        binaries = server_binaries()
        if os.geteuid() == 0:
            shutil.chown(self.base, SERVICE_USER)
        subprocess.run(
            self._as_service_user([str(binaries / "initdb"), "-D", str(self.data),
             "-U", "sdlite", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"]),
            check=True, capture_output=True,
        )  # fmt: skip
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self._as_service_user([str(binaries / "postgres"), "-D", str(self.data),
                 "-p", str(self.port), "-c", "listen_addresses=127.0.0.1",
                 "-c", f"unix_socket_directories={self.base}", "-c", "max_connections=400",
                 "-c", "fsync=off", "-c", "synchronous_commit=off",
                 "-c", "full_page_writes=off"]),
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited: {self.log_path.read_text()}")
            try:
                with self._admin():
                    return
            except psycopg.OperationalError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"postgres did not start within {START_SECONDS} s")

    def _admin(self) -> psycopg.Connection:
        return psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=sdlite dbname=postgres", autocommit=True
        )

    def url(self, database: str) -> str:
        return f"postgresql://sdlite@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """Make an empty database, or a copy of template; return its URL."""
        copy = f" TEMPLATE {template}" if template else ""
        with self._admin() as admin:
            admin.execute(f"CREATE DATABASE {name}{copy}")
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with self._admin() as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        """Stop the server by its PID and remove its folder."""
        if self.process is not None and self.process.poll() is None:
            # To the group: runuser, when it is there, and the server under it. SIGINT is
            # PostgreSQL's fast shutdown.
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        shutil.rmtree(self.base, ignore_errors=True)
