"""The baselines: `cat` of the same page-cached files into a pipe we drain, or into /dev/null."""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bench.common import MIB, BenchError
from bench.ombuds.data import StoredFile
from bench.ombuds.plan import PIPE_BYTES
from bench.proc import MachineCpu


@dataclass
class CatRun:
    seconds: float
    cat_cpu_seconds: float
    reader_cpu_seconds: float
    others_cpu_seconds: float


def drain(read_end: int) -> int:
    """Read a pipe to its end in 1 MiB reads, dropping the bytes; return how many came."""
    count = 0
    buffer = bytearray(MIB)
    with open(read_end, "rb", buffering=0) as pipe:
        while n := pipe.readinto(buffer):
            count += n
    return count


def run_cat(files: Sequence[StoredFile], to_pipe: bool) -> CatRun:
    """Time `cat FILES` into a pipe that this process drains in 1 MiB reads, or into /dev/null.

    The pipe is given 1 MiB (F_SETPIPE_SZ), so that a 1 MiB read can get 1 MiB, as the
    client's reads do from its socket: with the default 64 KiB, the two processes would
    wake each other 16 times as often, which makes the baseline slower and much noisier.
    """
    expected = sum(f.size for f in files)
    read_end, write_end = os.pipe() if to_pipe else (-1, os.open(os.devnull, os.O_WRONLY))
    if to_pipe:
        with contextlib.suppress(OSError):  # the baseline still works with a smaller pipe
            fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    machine0 = MachineCpu.now()
    cpu0, t0 = time.thread_time(), time.perf_counter()
    try:
        process = subprocess.Popen(["cat", *(str(f.path) for f in files)], stdout=write_end)
    finally:
        os.close(write_end)
    count = drain(read_end) if to_pipe else 0
    _, status, usage = os.wait4(process.pid, 0)
    t1, cpu1 = time.perf_counter(), time.thread_time()
    machine1 = MachineCpu.now()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0 or (to_pipe and count != expected):
        raise BenchError(f"cat exited {process.returncode} after {count} of {expected} bytes")
    cat_cpu = usage.ru_utime + usage.ru_stime
    others = machine1.others_since(machine0, cat_cpu)
    return CatRun(t1 - t0, cat_cpu, cpu1 - cpu0, others)
