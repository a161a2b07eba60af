"""What /proc says about a process and the machine: RSS, peak RSS, CPU time, load."""

from __future__ import annotations

import os
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from bench.common import mib

CLK_TCK = os.sysconf("SC_CLK_TCK")

T = TypeVar("T")


def proc_status_kib(pid: int, key: str) -> int:
    """Return a `kB` field of /proc/<pid>/status (VmRSS, VmHWM), or 0 if the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return 0


def children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found.extend(int(p) for p in f.read().split())
        except FileNotFoundError:
            continue
    return found


def is_gpg(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip() == "gpg"
    except FileNotFoundError:
        return False


def load_average() -> float:
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False if the kernel refused."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def machine_busy_seconds() -> float:
    """Return the CPU seconds all CPUs have spent busy since boot (user..steal in /proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:9]]
    idle, iowait = fields[3], fields[4]
    return (sum(fields) - idle - iowait) / CLK_TCK


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_seconds(pid: int) -> tuple[float, float]:
    """Return (own user+sys, reaped children's user+sys) CPU seconds of a process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # After the command name: state is fields[0]; utime, stime, cutime, cstime are 11..14.
    own = (int(fields[11]) + int(fields[12])) / CLK_TCK
    reaped = (int(fields[13]) + int(fields[14])) / CLK_TCK
    return own, reaped


@dataclass(frozen=True)
class MachineCpu:
    """The CPU seconds the whole machine, and this process, had used at one moment."""

    busy: float
    own: float

    @classmethod
    def now(cls) -> MachineCpu:
        return cls(machine_busy_seconds(), own_cpu_seconds())

    def others_since(self, start: MachineCpu, *measured: float) -> float:
        """Return the CPU seconds used since start by all but this process and the measured."""
        others = self.busy - start.busy
        for seconds in measured:
            others -= seconds
        return others - (self.own - start.own)


@dataclass(frozen=True)
class WorkerUse:
    """What a server worker used while it answered one measured request."""

    rss_before_kib: int
    peak_rss_kib: int  # VmHWM, reset just before the request when peak_reset
    rss_after_kib: int
    cpu_seconds: float  # the worker's own
    children_cpu_seconds: float  # of the children it reaped meanwhile (its gpg)
    machine_before: MachineCpu
    machine_after: MachineCpu
    peak_reset: bool

    def others_cpu_seconds(self, *also_measured: float) -> float:
        """Return the CPU seconds used meanwhile by all but the worker, this process and also."""
        return self.machine_after.others_since(
            self.machine_before, self.cpu_seconds, *also_measured
        )

    def rss_mib(self) -> dict[str, float]:
        """Return the RSS figures in MiB, named as the benchmarks' result fields name them."""
        return {
            "rss_before_mib": mib(self.rss_before_kib),
            "peak_rss_mib": mib(self.peak_rss_kib),
            "growth_mib": mib(self.peak_rss_kib - self.rss_before_kib),
            "rss_after_mib": mib(self.rss_after_kib),
        }


def watch_worker(worker: int, request: Callable[[], T]) -> tuple[T, WorkerUse]:
    """Run request, and measure the worker's RSS, peak RSS and CPU time around it."""
    time.sleep(0.2)  # let the previous request's buffers go before taking the baseline RSS
    rss_before = proc_status_kib(worker, "VmRSS")
    reset = reset_peak_rss(worker)
    cpu0 = cpu_seconds(worker)
    machine0 = MachineCpu.now()
    outcome = request()
    machine1 = MachineCpu.now()
    cpu1 = cpu_seconds(worker)
    use = WorkerUse(
        rss_before_kib=rss_before,
        peak_rss_kib=proc_status_kib(worker, "VmHWM"),
        rss_after_kib=proc_status_kib(worker, "VmRSS"),
        cpu_seconds=cpu1[0] - cpu0[0],
        children_cpu_seconds=cpu1[1] - cpu0[1],
        machine_before=machine0,
        machine_after=machine1,
        peak_reset=reset,
    )
    return outcome, use


class RssSampler(threading.Thread):
    """Polls the worker's RSS and its children's (gpg) RSS until stopped."""

    def __init__(self, worker: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.worker = worker
        self.interval = interval
        self.stop_event = threading.Event()
        self.worker_peak_kib = 0
        self.child_peak_kib = 0
        self.total_peak_kib = 0
        self.samples = 0

    def run(self) -> None:
        while not self.stop_event.is_set():
            own = proc_status_kib(self.worker, "VmRSS")
            # Only children that exec'd gpg: between fork and exec a child shows the
            # worker's own pages as its RSS, which is not memory anyone allocated.
            kids = sum(proc_status_kib(c, "VmRSS") for c in children(self.worker) if is_gpg(c))
            self.worker_peak_kib = max(self.worker_peak_kib, own)
            self.child_peak_kib = max(self.child_peak_kib, kids)
            self.total_peak_kib = max(self.total_peak_kib, own + kids)
            self.samples += 1
            self.stop_event.wait(self.interval)

    def stop(self) -> None:
        self.stop_event.set()
        self.join()
