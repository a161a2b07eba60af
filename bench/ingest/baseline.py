"""The baseline: raw `gpg --encrypt --compress-algo none` of the same file to the same key."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import BenchError
from bench.proc import MachineCpu


@dataclass
class GpgRun:
    seconds: float
    cpu_seconds: float
    max_rss_kib: int
    fsync_seconds: float  # an fsync of its output afterwards, not part of `seconds`
    out_bytes: int
    others_cpu_seconds: float  # CPU that other processes on the machine used meanwhile


def fsync_seconds(path: Path) -> float:
    """Return how long an fsync of path takes."""
    f0 = time.perf_counter()
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return time.perf_counter() - f0


def run_gpg(home: Path, fingerprint: str, source: Path, out: Path) -> GpgRun:
    out.unlink(missing_ok=True)
    machine0 = MachineCpu.now()
    command = ["gpg", "--homedir", str(home), "--batch", "--trust-model", "always",
               "--encrypt", "--recipient", fingerprint, "--compress-algo", "none",
               "--output", str(out), str(source)]  # fmt: skip
    t0 = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    t1 = time.perf_counter()
    machine1 = MachineCpu.now()
    gpg_cpu = usage.ru_utime + usage.ru_stime
    others = machine1.others_since(machine0, gpg_cpu)
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read() if process.stderr else b""
    if process.stderr:
        process.stderr.close()
    if process.returncode != 0:
        raise BenchError(f"gpg failed: {stderr.decode(errors='replace')}")
    fsync = fsync_seconds(out)
    return GpgRun(t1 - t0, gpg_cpu, usage.ru_maxrss, fsync, out.stat().st_size, others)
