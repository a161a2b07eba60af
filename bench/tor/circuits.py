"""Which relays carried a POST: the client's and the service's halves of the rendezvous.

All the network's relays run on this machine, so every hop costs CPU here, and a relay
that appears on both halves does the work twice: two routes can differ by their circuits
alone. Each run records both halves, and the runs take fresh circuits (NEWNYM), so that
the medians do not rest on one draw of relays.
"""

from __future__ import annotations

from stem.control import Controller

from bench.common import BenchError


def _lines(controller: Controller, key: str) -> list[str]:
    return [line.strip() for line in controller.get_info(key).splitlines() if line.strip()]


def _path(fields: list[str]) -> list[str]:
    """The nicknames of a circuit-status line's path ($FINGERPRINT~nick,...)."""
    if len(fields) < 3 or not fields[2].startswith("$"):
        return []
    return [hop.split("~", 1)[-1] for hop in fields[2].split(",")]


def client_path(controller: Controller, onion_address: str) -> list[str]:
    """The path of the circuit that carries the client's open stream to onion_address."""
    # The stream of the page read just before may still be closing: it took the same
    # circuit, since tor keeps one rendezvous circuit per onion address.
    circuits = {
        fields[2]
        for fields in (line.split() for line in _lines(controller, "stream-status"))
        if len(fields) >= 4 and fields[1] == "SUCCEEDED" and fields[3].startswith(onion_address)
    }
    if len(circuits) != 1:
        raise BenchError(f"expected one circuit to {onion_address}, found {sorted(circuits)}")
    (circuit,) = circuits
    for line in _lines(controller, "circuit-status"):
        fields = line.split()
        if fields[0] == circuit:
            return _path(fields)
    raise BenchError(f"no circuit {circuit} on the client")


def service_path(controller: Controller, service_id: str) -> list[str]:
    """The path of the service's newest rendezvous circuit for service_id."""
    newest: tuple[int, list[str]] | None = None
    for line in _lines(controller, "circuit-status"):
        fields = line.split()
        if (
            fields[0].isdigit()
            and fields[1] == "BUILT"
            and "PURPOSE=HS_SERVICE_REND" in fields
            and f"REND_QUERY={service_id}" in fields
            and (newest is None or int(fields[0]) > newest[0])
        ):
            newest = (int(fields[0]), _path(fields))
    if newest is None:
        raise BenchError(f"no rendezvous circuit for {service_id} on the onion-service tor")
    return newest[1]
