"""What each timed POST measured, the medians over the runs, and the figures for the JSON."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from bench.results_md import figure

FILE_MIB = 10
MODULE = "bench.tor"

# The three routes, in the order each run takes them.
BARE, ONION, LOOPBACK = "bare onion", "sdlite onion", "sdlite loopback"
ROUTES = (BARE, ONION, LOOPBACK)
DESCRIPTIONS = {
    BARE: "a bare HTTP sink (reads the body, answers 302) over an onion service",
    ONION: "sdlite serve source over its onion service",
    LOOPBACK: "sdlite serve source over loopback HTTP, no Tor",
}


@dataclass
class RouteRun:
    """One timed POST of the file along one route, and the CPU used meanwhile."""

    route: str
    run: int
    seconds: float
    send_seconds: float
    tail_seconds: float
    connect_seconds: float  # TCP (and SOCKS) connection, before and outside the timing
    client_cpu_seconds: float
    tor_cpu_seconds: float  # all the network's tors together
    server_cpu_seconds: float  # the gunicorn worker and the gpg it ran, or the sink
    others_cpu_seconds: float  # the rest of the machine, less this process
    client_path: list[str] = field(default_factory=list)  # relays, guard to rendezvous point
    service_path: list[str] = field(default_factory=list)  # relays, guard to rendezvous point

    @property
    def hops(self) -> int:
        """Relay hops between the two tors (the rendezvous point counted once); 0 on loopback."""
        return max(len(self.client_path) + len(self.service_path) - 1, 0)

    @property
    def others_share(self) -> float:
        return max(self.others_cpu_seconds, 0.0) / self.seconds


@dataclass
class TorResult:
    """Everything one benchmark run measured."""

    runs: list[RouteRun] = field(default_factory=list)
    network_timings: dict[str, float] = field(default_factory=dict)
    reachable_seconds: dict[str, float] = field(default_factory=dict)
    verification: dict[str, Any] = field(default_factory=dict)
    killed_tors: list[str] = field(default_factory=list)
    tors_left_running: list[int] = field(default_factory=list)

    def of(self, route: str) -> list[RouteRun]:
        return [r for r in self.runs if r.route == route]

    def median(self, route: str, name: str) -> float:
        return float(statistics.median(getattr(r, name) for r in self.of(route)))

    def summary(self, route: str) -> dict[str, Any]:
        seconds = [r.seconds for r in self.of(route)]
        median = float(statistics.median(seconds))
        return {
            "route": route,
            "description": DESCRIPTIONS[route],
            "runs": len(seconds),
            "seconds_median": median,
            "seconds_min": min(seconds),
            "seconds_max": max(seconds),
            "mib_per_s": FILE_MIB / median,
            **{
                f"{name}_median": self.median(route, name)
                for name in (
                    "send_seconds",
                    "tail_seconds",
                    "connect_seconds",
                    "client_cpu_seconds",
                    "tor_cpu_seconds",
                    "server_cpu_seconds",
                    "others_cpu_seconds",
                )
            },
            "others_share_max": max(r.others_share for r in self.of(route)),
            "hops_per_run": [r.hops for r in self.of(route)],
        }

    def figures(self, command: str) -> list[dict[str, Any]]:
        """The two figures in the shared schema: against the bare onion, against loopback."""
        onion = [r.seconds for r in self.of(ONION)]
        return [
            figure(
                name,
                "s",
                onion,
                better="lower",
                command=command,
                baseline=f"the same POST to {DESCRIPTIONS[baseline]}",
                baseline_values=[r.seconds for r in self.of(baseline)],
            )
            for baseline, name in (
                (BARE, f"end-to-end {FILE_MIB} MiB submission over the private Tor network"),
                (LOOPBACK, f"{FILE_MIB} MiB submission over Tor against loopback (Tor's cost)"),
            )
        ]
