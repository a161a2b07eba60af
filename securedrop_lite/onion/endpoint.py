"""Where tor's control port is; parsed without importing stem, so the config can check it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class ControlEndpoint:
    """Where tor's control port is: a loopback TCP port or a unix socket."""

    host: str | None
    port: int | None
    socket_path: Path | None

    @classmethod
    def parse(cls, text: str) -> ControlEndpoint:
        """Parse "unix:/run/tor/control", "127.0.0.1:9051" or "9051"."""
        if text.startswith("unix:"):
            path = Path(text.removeprefix("unix:"))
            if not path.is_absolute():
                raise ValueError("a control socket path must be absolute")
            return cls(None, None, path)
        host, _, port = text.rpartition(":")
        host = host or "127.0.0.1"
        if host.strip("[]") not in LOOPBACK_HOSTS:
            raise ValueError("the control port must be on loopback (127.0.0.1)")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("the control port must be a port number")
        return cls(host.strip("[]"), int(port), None)

    def __str__(self) -> str:
        return f"unix:{self.socket_path}" if self.socket_path else f"{self.host}:{self.port}"
