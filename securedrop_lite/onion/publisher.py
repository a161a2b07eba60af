"""Publish the source and ombuds onion services through tor's control port.

Both are ADD_ONION services with Flags=Detach: they outlive the control connection
that made them, and last until `down` or until tor stops (sdlite-onion.service runs
`up` again when tor restarts). The ombuds service always carries Flags=V3Auth, with
which tor itself refuses a service without client keys: it can never be published open.
Client keys cannot be changed on a running service, so a change of users republishes
it: DEL_ONION, then ADD_ONION with the same key and the new list.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import stem
from stem.control import Controller

from securedrop_lite.onion.control import (
    OnionNotConfigured,
    TorBusy,
    TorRefused,
    TorUnreachable,
    command,
    connect,
    reply_values,
)
from securedrop_lite.onion.endpoint import ControlEndpoint
from securedrop_lite.onion.keys import CLIENT_KEY, ServiceKey, read_address, replace_private

VIRTUAL_PORT = 80
MAX_STREAMS_PER_CIRCUIT = 16  # Tor Browser opens at most 6 connections to one site
LOCK_TIMEOUT_SECONDS = 60.0
PUBLISHED_CLIENTS_FILE = "published-clients"


@dataclass(frozen=True)
class OnionSettings:
    """What the publisher needs from the Config."""

    onion_dir: Path
    control: ControlEndpoint | None
    control_password: str | None
    source_target: str
    ombuds_target: str
    source_pow: bool
    # An address the config names for a source service whose key lives elsewhere.
    source_address_override: str | None = None

    @property
    def source_dir(self) -> Path:
        return self.onion_dir / "source"

    @property
    def ombuds_dir(self) -> Path:
        return self.onion_dir / "ombuds"


@dataclass(frozen=True)
class OnionStatus:
    source_address: str | None
    ombuds_address: str | None
    source_published: bool
    ombuds_published: bool
    client_keys: int
    # False when the ombuds service was published with another list of client keys
    # than the users have now, e.g. after a deletion while tor was unreachable.
    clients_current: bool

    @property
    def healthy(self) -> bool:
        """Both services are up as configured; an ombuds service without keys stays closed."""
        ombuds_as_it_should_be = (
            self.ombuds_published and self.clients_current
        ) or self.client_keys == 0
        return self.source_published and ombuds_as_it_should_be


def ensure_keys(settings: OnionSettings) -> tuple[ServiceKey, ServiceKey]:
    """Load both service keys, making any that is missing (0600 files in 0700 folders)."""
    settings.onion_dir.mkdir(mode=0o700, exist_ok=True)
    return ServiceKey.load_or_create(settings.source_dir), ServiceKey.load_or_create(
        settings.ombuds_dir
    )


class OnionPublisher:
    def __init__(self, settings: OnionSettings, client_keys: Callable[[], list[str]]) -> None:
        self.settings = settings
        self.client_keys = client_keys  # the users' public keys, read at publication time

    @property
    def configured(self) -> bool:
        return self.settings.control is not None

    @property
    def source_address(self) -> str | None:
        return self.settings.source_address_override or read_address(self.settings.source_dir)

    @property
    def ombuds_address(self) -> str | None:
        return read_address(self.settings.ombuds_dir)

    def up(self) -> OnionStatus:
        """Publish (or republish) both services with the current settings and client keys."""
        source, ombuds = ensure_keys(self.settings)
        with self._locked(), self._controller() as controller:
            self._remove(controller, source)
            self._add(controller, source, self._source_options(), ("MaxStreamsCloseCircuit",))
            self._publish_ombuds(controller, ombuds)
        return self.status()

    def refresh_clients(self) -> OnionStatus:
        """Republish the ombuds service with the users' current client keys."""
        ombuds = ServiceKey.load_or_create(self.settings.ombuds_dir)
        with self._locked(), self._controller() as controller:
            self._publish_ombuds(controller, ombuds)
        return self.status()

    def down(self) -> None:
        """Withdraw both services; their keys stay, so `up` brings back the same addresses."""
        source, ombuds = ensure_keys(self.settings)
        with self._locked(), self._controller() as controller:
            self._remove(controller, source)
            self._remove(controller, ombuds)
            self._record_clients(None)

    def status(self) -> OnionStatus:
        with self._controller() as controller:
            detached = self._detached(controller)
        source_address, ombuds_address = self.source_address, self.ombuds_address
        keys = self._current_client_keys()
        ombuds_published = ombuds_address is not None and ombuds_address[:56] in detached
        return OnionStatus(
            source_address=source_address,
            ombuds_address=ombuds_address,
            source_published=source_address is not None and source_address[:56] in detached,
            ombuds_published=ombuds_published,
            client_keys=len(keys),
            clients_current=self._published_clients() == (keys if ombuds_published else None),
        )

    def _source_options(self) -> list[str]:
        # One circuit may hold at most this many streams at once; past that tor closes
        # it, so one visitor cannot occupy every server thread over a single circuit.
        options = [
            f"Port={VIRTUAL_PORT},{self.settings.source_target}",
            f"MaxStreams={MAX_STREAMS_PER_CIRCUIT}",
        ]
        if self.settings.source_pow:
            options.append("PoWDefensesEnabled=1")
        return options

    def _publish_ombuds(self, controller: Controller, ombuds: ServiceKey) -> None:
        keys = self._current_client_keys()
        previous = self._published_clients()
        self._remove(controller, ombuds)
        if previous is None or set(previous) - set(keys):
            # A revoked client's open rendezvous circuit would otherwise outlive DEL_ONION
            # and reach the service again once it is re-added with the same key (measured:
            # about a minute). Cut them all; clients with a current key reconnect.
            self._close_rendezvous_circuits(controller, ombuds)
        self._record_clients(None)
        if not keys:
            return  # no user has a key: the interface stays unpublished
        self._add(
            controller,
            ombuds,
            [f"Port={VIRTUAL_PORT},{self.settings.ombuds_target}"]
            + [f"ClientAuthV3={key}" for key in keys],
            flags=("V3Auth",),
        )
        self._record_clients(keys)

    def _current_client_keys(self) -> list[str]:
        keys = sorted(set(self.client_keys()))
        for key in keys:
            if not CLIENT_KEY.fullmatch(key):
                raise TorRefused("a stored client key is malformed; reissue it")
        return keys

    @staticmethod
    def _detached(controller: Controller) -> set[str]:
        reply = command(controller, "GETINFO onions/detached")
        ids: set[str] = set()
        for value in reply_values(reply).get("onions/detached", []):
            ids.update(value.split())
        # A multi-line reply lists one id per line, outside KEY=VALUE.
        ids.update(line.strip() for line in str(reply).splitlines() if len(line.strip()) == 56)
        return ids

    @staticmethod
    def _close_rendezvous_circuits(controller: Controller, key: ServiceKey) -> None:
        reply = command(controller, "GETINFO circuit-status")
        for line in str(reply).splitlines():
            # With one circuit, tor answers on the key's own line: circuit-status=ID ...
            fields = line.removeprefix("circuit-status=").split()
            if (
                len(fields) > 1
                and fields[0].isdigit()
                and "PURPOSE=HS_SERVICE_REND" in fields
                and f"REND_QUERY={key.service_id}" in fields
            ):
                # The circuit may close by itself meanwhile; tor then answers 552.
                try:
                    controller.msg(f"CLOSECIRCUIT {fields[0]}")
                except stem.ControllerError as exc:
                    raise TorUnreachable("tor closed the control connection") from exc

    @staticmethod
    def _remove(controller: Controller, key: ServiceKey) -> None:
        if key.service_id in OnionPublisher._detached(controller):
            command(controller, f"DEL_ONION {key.service_id}")

    @staticmethod
    def _add(
        controller: Controller, key: ServiceKey, options: list[str], flags: tuple[str, ...] = ()
    ) -> None:
        # DiscardPK: tor has the key from us and must not echo it back over the socket.
        all_flags = ",".join(("Detach", "DiscardPK", *flags))
        reply = command(
            controller, f"ADD_ONION {key.add_onion_key()} Flags={all_flags} {' '.join(options)}"
        )
        published = reply_values(reply).get("ServiceID", [""])[0]
        if published != key.service_id:
            raise TorRefused(f"tor published {published}.onion instead of {key.address}")

    @contextmanager
    def _controller(self) -> Iterator[Controller]:
        if self.settings.control is None:
            raise OnionNotConfigured(
                "no tor control port is configured: set tor_control in sdlite.toml "
                '(for example "unix:/run/tor/control"), or run the services from a torrc '
                "HiddenServiceDir (see tor/README.md)"
            )
        with connect(self.settings.control, self.settings.control_password) as controller:
            yield controller

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialize publications: two user deletions at once must not re-add a revoked key."""
        self.settings.onion_dir.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(
            self.settings.onion_dir / ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600
        )
        try:
            deadline = time.monotonic() + LOCK_TIMEOUT_SECONDS
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise TorBusy(
                            "another sdlite process has been publishing the onion services "
                            f"for {LOCK_TIMEOUT_SECONDS:.0f} s; try again"
                        ) from None
                    time.sleep(0.1)
            yield
        finally:
            os.close(fd)

    def _record_clients(self, keys: list[str] | None) -> None:
        path = self.settings.ombuds_dir / PUBLISHED_CLIENTS_FILE
        if keys is None:
            path.unlink(missing_ok=True)
            return
        replace_private(path, "".join(key + "\n" for key in keys).encode("ascii"))

    def _published_clients(self) -> list[str] | None:
        try:
            return (self.settings.ombuds_dir / PUBLISHED_CLIENTS_FILE).read_text().split()
        except FileNotFoundError:
            return None
