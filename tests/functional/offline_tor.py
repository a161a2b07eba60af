"""One real tor with DisableNetwork 1: a control port to publish onion services into.

It never makes a network connection (not even to the private test network), so the
control-port tests run in a second; tests/e2e proves the services are reachable.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from tests.conftest import free_port
from tests.e2e.tornet import check_torrc_safe

START_TIMEOUT = 30.0
STOP_GRACE = 5.0


def hashed_control_password(password: str) -> str:
    """Return tor's HashedControlPassword for password (OpenPGP iterated+salted S2K, SHA-1)."""
    salt, indicator = secrets.token_bytes(8), 96
    count = (16 + (indicator & 15)) << ((indicator >> 4) + 6)
    material = salt + password.encode()
    data = (material * (count // len(material) + 1))[:count]
    digest = hashlib.sha1(data, usedforsecurity=False).hexdigest().upper()
    return f"16:{salt.hex().upper()}{indicator:02X}{digest}"


class OfflineTor:
    """`tor --defaults-torrc /dev/null -f TORRC` with the network off, stopped by its PID."""

    def __init__(self, base: Path, password: str | None = None) -> None:
        self.data_dir = base / "offline-tor"
        self.control_port = free_port()
        self.password = password
        self.process: subprocess.Popen[bytes] | None = None

    def torrc(self) -> str:
        auth = (
            f"HashedControlPassword {hashed_control_password(self.password)}"
            if self.password
            else "CookieAuthentication 1"
        )
        return "\n".join(
            [
                "TestingTorNetwork 1",
                "ClientUseIPv6 0",
                "UseDefaultFallbackDirs 0",
                # A placeholder authority on 127.0.0.1:1, so tor never picks its public ones.
                "DirAuthority placeholder orport=1 no-v2 "
                f"v3ident={'0' * 40} 127.0.0.1:1 {'0' * 40}",
                f"DataDirectory {self.data_dir}",
                "SocksPort 0",
                f"ControlPort 127.0.0.1:{self.control_port}",
                auth,
                "GeoIPFile /dev/null",
                "GeoIPv6File /dev/null",
                f"Log notice file {self.data_dir / 'notice.log'}",
                f"__OwningControllerProcess {os.getpid()}",
                "DisableNetwork 1",
                "",
            ]
        )

    def __enter__(self) -> OfflineTor:
        tor = shutil.which("tor") or shutil.which("tor", path="/usr/sbin")
        if tor is None:
            raise RuntimeError("tor is missing: install Debian's tor package (make test does)")
        self.data_dir.mkdir(mode=0o700, parents=True)
        text = self.torrc()
        check_torrc_safe(text)
        torrc = self.data_dir / "torrc"
        torrc.write_text(text)
        self.process = subprocess.Popen(
            [tor, "--defaults-torrc", "/dev/null", "-f", str(torrc)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tor exited: {self.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.control_port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"tor's control port did not open: {self.log_tail()}")

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            self.process.kill()  # tor 0.4.9 sometimes hangs on exit
            self.process.wait()

    def log_tail(self) -> str:
        log = self.data_dir / "notice.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
