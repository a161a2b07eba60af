"""A connection to tor's control port, with named errors for each way it can fail."""

from __future__ import annotations

import logging
import shutil
import socket
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import stem
import stem.connection
import stem.socket
from stem.control import Controller
from stem.response import ControlMessage

from securedrop_lite.onion.endpoint import ControlEndpoint


class TorError(Exception):
    """tor cannot do what was asked; the message says why and what to do."""


class OnionNotConfigured(TorError):
    """No tor control port is configured, so sdlite does not manage onion services."""


class TorMissing(TorError):
    """tor is not installed, or its control socket does not exist."""


class TorUnreachable(TorError):
    """tor's control port does not answer."""


class TorRefused(TorError):
    """tor refused our authentication or a command."""


class TorBusy(TorError):
    """Another sdlite process holds the publication lock for too long."""


def _missing_or_unreachable(endpoint: ControlEndpoint, exc: Exception) -> TorError:
    if shutil.which("tor") is None and shutil.which("tor", path="/usr/sbin:/usr/bin") is None:
        return TorMissing("tor is not installed here: install Debian's tor package")
    if endpoint.socket_path is not None and not endpoint.socket_path.exists():
        return TorMissing(f"there is no tor control socket at {endpoint}: is tor running?")
    return TorUnreachable(f"tor's control port at {endpoint} does not answer ({exc})")


CONNECT_TIMEOUT_SECONDS = 10.0


def _open(endpoint: ControlEndpoint) -> socket.socket:
    """Connect within a time limit, closing the socket on failure (stem leaves it open)."""
    if endpoint.socket_path is None:
        address = (endpoint.host or "127.0.0.1", endpoint.port or 0)
        sock = socket.create_connection(address, timeout=CONNECT_TIMEOUT_SECONDS)
    else:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(CONNECT_TIMEOUT_SECONDS)
            sock.connect(str(endpoint.socket_path))
        except OSError:
            sock.close()
            raise
    sock.settimeout(None)
    return sock


class _ConnectedPort(stem.socket.ControlSocket):
    """A stem control socket over a socket we connected ourselves."""

    def __init__(self, endpoint: ControlEndpoint) -> None:
        super().__init__()
        self._endpoint = endpoint
        self.connect()

    def _make_socket(self) -> Any:
        try:
            return _open(self._endpoint)
        except OSError as exc:
            raise stem.SocketError(exc) from exc


# stem traces every command it sends, ADD_ONION with the service's secret key included:
# none of it may reach a handler of ours.
logging.getLogger("stem").propagate = False


@contextmanager
def _quiet_stem() -> Iterator[None]:
    # stem 1.8.2 starts its reader threads with Thread.setDaemon(), deprecated in 3.10.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "setDaemon", DeprecationWarning)
        yield


@contextmanager
def connect(endpoint: ControlEndpoint, password: str | None) -> Iterator[Controller]:
    """Yield a controller authenticated with the cookie (or the password, when given)."""
    try:
        with _quiet_stem():
            controller = Controller(_ConnectedPort(endpoint))
    except stem.SocketError as exc:
        raise _missing_or_unreachable(endpoint, exc) from exc
    try:
        try:
            with _quiet_stem():
                controller.authenticate(password=password)
        except stem.connection.AuthenticationFailure as exc:
            raise TorRefused(
                f"tor refused our authentication at {endpoint}: {exc}. With cookie "
                "authentication the service user must be able to read tor's cookie file "
                "(the debian-tor group); with a password, set tor_control_password."
            ) from exc
        except stem.SocketError as exc:
            raise TorUnreachable(f"tor closed the control connection at {endpoint}") from exc
        yield controller
    finally:
        controller.close()


def command(controller: Controller, line: str) -> ControlMessage:
    """Send one command; raise TorRefused when tor answers with an error."""
    try:
        reply = controller.msg(line)
    except stem.SocketError as exc:
        raise TorUnreachable("tor closed the control connection") from exc
    if not reply.is_ok():
        verb = line.split(" ", 1)[0]
        raise TorRefused(f"tor refused {verb}: {str(reply).strip()}")
    return reply


def reply_values(reply: ControlMessage) -> dict[str, list[str]]:
    """Return the KEY=VALUE lines of a reply, each key with all its values."""
    values: dict[str, list[str]] = {}
    for line in str(reply).splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values.setdefault(key.strip(), []).append(value.strip())
    return values
