"""Ingest benchmark: upload a large random file over HTTP to the real server, against raw gpg.

For each file size, in one run:

* ingest: a source signs up over HTTP, then POSTs /submit with the file streamed from
  disk (hand-built multipart, 1 MiB sends, correct Content-Length) to a real
  `sdlite serve source` (gunicorn, 1 gthread worker, 4 threads, default KDF profile).
  Timed from the first byte of the request to the 302 answer: that covers the transfer,
  the form parsing, the streaming into gpg, gpg's tail, the fsync and the database commit.
* baseline: `gpg --encrypt --compress-algo none` of the same (page-cached) file to the
  same key, from the server's own GnuPG home.
* memory: the gunicorn worker's peak RSS (VmHWM, reset with /proc/<pid>/clear_refs just
  before the upload, because the Argon2id derivations at signup peak far higher) minus
  its RSS just before the upload. A sampler thread also records the worker's and its gpg
  child's RSS every 10 ms, as a cross-check.

Targets (from the issue): ingest <= 1.5x gpg; worker RSS growth <= 64 MiB at 256 MiB and
at 1 GiB. The benchmark prints whether they are met; it never fails on timings.

Run: .venv/bin/python -m bench.ingest [--quick] [--keep] [--runs N] [--sizes 256,1024]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import json
import os
import platform
import re
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from securedrop_lite.airgap.keys import export_public_key, generate_key
from securedrop_lite.cli import initialize

MIB = 1024 * 1024
CHUNK = MIB
RATIO_TARGET = 1.5
RSS_TARGET_MIB = 64.0
DEFAULT_MAX_UPLOAD = 500 * MIB  # the instance default; bigger files need the override
BIG_MAX_UPLOAD = 2 * 1024 * MIB
SAMPLE_INTERVAL = 0.01
# Share of a CPU used by anything else during an ingest run above which the wall-clock
# figures are flagged. Some is the ingest's own kernel work (write-back forced by its fsync).
OTHER_LOAD_WARNING = 0.25
FULL_PLAN = [(256, 5), (1024, 3)]  # (MiB, runs)
QUICK_PLAN = [(64, 3), (128, 3)]
DEFAULT_WORK = Path("/tmp/sdlite-bench")
OUT_JSON = Path(__file__).resolve().parent / "out" / "ingest.json"
VENV_BIN = Path(sys.executable).parent
CLK_TCK = os.sysconf("SC_CLK_TCK")

_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
_CODENAME = re.compile(r'<p class="codename" id="codename">([^<]+)</p>')


class BenchError(Exception):
    """The benchmark could not measure what it set out to measure."""


# -- /proc -------------------------------------------------------------------------------


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


class RssSampler(threading.Thread):
    """Polls the worker's RSS and its children's (gpg) RSS until stopped."""

    def __init__(self, worker: int) -> None:
        super().__init__(daemon=True)
        self.worker = worker
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
            self.stop_event.wait(SAMPLE_INTERVAL)

    def stop(self) -> None:
        self.stop_event.set()
        self.join()


# -- the server --------------------------------------------------------------------------


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    temp_dir: Path
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pid(self) -> int:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = children(self.process.pid)
            if len(found) == 1:
                return found[0]
            time.sleep(0.1)
        raise BenchError(f"expected one gunicorn worker, found {children(self.process.pid)}")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data_dir: Path, work: Path, max_upload: int | None) -> Server:
    """Start `sdlite serve source` with its own TMPDIR and only the SDLITE_* we choose."""
    temp_dir = work / "server-tmp"
    shutil.rmtree(temp_dir, ignore_errors=True)
    temp_dir.mkdir(parents=True)
    log_path = work / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SDLITE_")}
    env["TMPDIR"] = str(temp_dir)
    if max_upload is not None:
        env["SDLITE_MAX_UPLOAD_BYTES"] = str(max_upload)
    port = free_port()
    process = subprocess.Popen(
        [str(VENV_BIN / "sdlite"), "serve", "source", "--data-dir", str(data_dir),
         "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4"],
        stdout=log_path.open("ab"), stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    server = Server(process, port, temp_dir, log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"server exited:\n{server.log_text()}")
        try:
            requests.get(server.url + "/robots.txt", timeout=1)
            return server
        except requests.ConnectionError:
            time.sleep(0.1)
    server.stop()
    raise BenchError("server did not start within 30 s")


# -- the source, over HTTP ----------------------------------------------------------------


def csrf_token(page: str) -> str:
    match = _CSRF.search(page)
    if not match:
        raise BenchError("no CSRF token on the page")
    return match.group(1)


def sign_up(server: Server) -> requests.Session:
    browser = requests.Session()
    page = browser.get(server.url + "/generate", timeout=120, allow_redirects=False).text
    if not _CODENAME.search(page):
        raise BenchError("no codename on /generate")
    response = browser.post(
        server.url + "/create",
        data={"csrf_token": csrf_token(page)},
        allow_redirects=False,
        timeout=120,
    )
    if response.status_code != 302:
        raise BenchError(f"/create answered {response.status_code}")
    return browser


@dataclass
class Sent:
    seconds: float  # first request byte to the complete answer
    send_seconds: float  # first request byte to the last body byte handed to the kernel
    client_cpu_seconds: float
    status: int
    location: str


def post_file(server: Server, browser: requests.Session, path: Path) -> Sent:
    """POST /submit with path as `fh`, streamed from disk in 1 MiB sends; time it."""
    page = browser.get(server.url + "/lookup", timeout=60, allow_redirects=False)
    if page.status_code != 200:
        raise BenchError(f"/lookup answered {page.status_code}")
    token = csrf_token(page.text)
    boundary = "sdlite-bench-" + secrets.token_hex(12)
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="csrf_token"\r\n\r\n'
        f"{token}\r\n"
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="msg"\r\n\r\n'
        "\r\n"
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="fh"; filename="{path.name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    size = path.stat().st_size
    cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    try:
        cpu0 = time.thread_time()
        t0 = time.perf_counter()
        connection.putrequest("POST", "/submit", skip_accept_encoding=True)
        connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        connection.putheader("Content-Length", str(len(head) + size + len(tail)))
        connection.putheader("Cookie", cookie)
        connection.endheaders()
        sock = connection.sock
        try:
            sock.sendall(head)
            with path.open("rb", buffering=0) as f:
                while n := f.readinto(buffer):
                    sock.sendall(view[:n])
            sock.sendall(tail)
        except (BrokenPipeError, ConnectionResetError) as exc:
            # The server answered before the body was complete (a 4xx): say what it said.
            try:
                early = connection.getresponse()
                said = f"{early.status} {early.read(300)!r}"
            except (OSError, http.client.HTTPException):
                said = "nothing"
            raise BenchError(f"the server cut the upload off ({exc}); it answered {said}") from exc
        t_sent = time.perf_counter()
        response = connection.getresponse()
        response.read()
        t1 = time.perf_counter()
        cpu1 = time.thread_time()
    finally:
        connection.close()
    return Sent(
        t1 - t0,
        t_sent - t0,
        cpu1 - cpu0,
        response.status,
        response.getheader("Location") or "",
    )


# -- the baseline -------------------------------------------------------------------------


@dataclass
class GpgRun:
    seconds: float
    cpu_seconds: float
    max_rss_kib: int
    fsync_seconds: float  # an fsync of its output afterwards, not part of `seconds`
    out_bytes: int
    others_cpu_seconds: float  # CPU that other processes on the machine used meanwhile


def run_gpg(home: Path, fingerprint: str, source: Path, out: Path) -> GpgRun:
    out.unlink(missing_ok=True)
    busy0, own0 = machine_busy_seconds(), own_cpu_seconds()
    command = ["gpg", "--homedir", str(home), "--batch", "--trust-model", "always",
               "--encrypt", "--recipient", fingerprint, "--compress-algo", "none",
               "--output", str(out), str(source)]  # fmt: skip
    t0 = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    t1 = time.perf_counter()
    busy1, own1 = machine_busy_seconds(), own_cpu_seconds()
    gpg_cpu = usage.ru_utime + usage.ru_stime
    others = (busy1 - busy0) - gpg_cpu - (own1 - own0)
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read() if process.stderr else b""
    if process.stderr:
        process.stderr.close()
    if process.returncode != 0:
        raise BenchError(f"gpg failed: {stderr.decode(errors='replace')}")
    f0 = time.perf_counter()
    fd = os.open(out, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    f1 = time.perf_counter()
    return GpgRun(t1 - t0, gpg_cpu, usage.ru_maxrss, f1 - f0, out.stat().st_size, others)


# -- checks -------------------------------------------------------------------------------


def stored_docs(store: Path) -> set[Path]:
    return {p for p in store.glob("*/*-doc.gpg") if not p.parent.name.startswith(".")}


def tree_listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb", buffering=0) as f:
        buffer = bytearray(CHUNK)
        while n := f.readinto(buffer):
            digest.update(memoryview(buffer)[:n])
    return digest.hexdigest()


def decrypt_digest(airgap_home: Path, encrypted: Path) -> str:
    """Decrypt with the air-gap key, hashing the plaintext as it streams out of gpg."""
    command = ["gpg", "--homedir", str(airgap_home), "--batch", "--quiet", "--pinentry-mode",
               "loopback", "--passphrase", "", "--decrypt", str(encrypted)]  # fmt: skip
    digest = hashlib.sha256()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    while chunk := process.stdout.read(CHUNK):
        digest.update(chunk)
    _, stderr = process.communicate()
    if process.returncode != 0:
        raise BenchError(f"decryption failed: {stderr.decode(errors='replace')}")
    return digest.hexdigest()


# -- one size -----------------------------------------------------------------------------


@dataclass
class RunResult:
    run: int
    ingest_seconds: float
    send_seconds: float
    tail_seconds: float
    client_cpu_seconds: float
    worker_cpu_seconds: float
    gpg_in_server_cpu_seconds: float
    others_cpu_seconds: float
    gpg_seconds: float
    gpg_cpu_seconds: float
    gpg_max_rss_mib: float
    gpg_fsync_seconds: float
    gpg_others_cpu_seconds: float
    rss_before_mib: float
    peak_rss_mib: float
    growth_mib: float
    rss_after_mib: float
    sampled_worker_peak_mib: float
    sampled_gpg_child_peak_mib: float
    ciphertext_bytes: int
    baseline_ciphertext_bytes: int
    server_tmpdir_entries: list[str]
    staging_entries: list[str]


@dataclass
class SizeResult:
    size_mib: int
    runs: list[RunResult] = field(default_factory=list)
    max_upload_override: int | None = None
    peak_reset: bool = True
    worker_rss_at_start_mib: float = 0.0
    worker_rss_at_end_mib: float = 0.0
    verification: dict[str, Any] = field(default_factory=dict)
    load_start: float = 0.0
    load_end: float = 0.0

    def median(self, name: str) -> float:
        return float(statistics.median(getattr(r, name) for r in self.runs))

    def summary(self) -> dict[str, Any]:
        ingest, gpg = self.median("ingest_seconds"), self.median("gpg_seconds")
        worst_growth = max(r.growth_mib for r in self.runs)
        return {
            "size_mib": self.size_mib,
            "runs": len(self.runs),
            "ingest_seconds_median": ingest,
            "gpg_seconds_median": gpg,
            "ratio": ingest / gpg,
            "ratio_target": RATIO_TARGET,
            "ratio_met": ingest / gpg <= RATIO_TARGET,
            # Like for like: ingest fsyncs what it stores; raw gpg leaves it in the page cache.
            "ratio_vs_gpg_and_fsync": ingest / (gpg + self.median("gpg_fsync_seconds")),
            "ingest_mib_per_s": self.size_mib / ingest,
            "gpg_mib_per_s": self.size_mib / gpg,
            "rss_before_mib_median": self.median("rss_before_mib"),
            "peak_rss_mib_median": self.median("peak_rss_mib"),
            "growth_mib_median": self.median("growth_mib"),
            "growth_mib_worst": worst_growth,
            "growth_target_mib": RSS_TARGET_MIB,
            "growth_met": worst_growth <= RSS_TARGET_MIB,
            "send_seconds_median": self.median("send_seconds"),
            "tail_seconds_median": self.median("tail_seconds"),
            "worker_cpu_seconds_median": self.median("worker_cpu_seconds"),
            "gpg_in_server_cpu_seconds_median": self.median("gpg_in_server_cpu_seconds"),
            "gpg_cpu_seconds_median": self.median("gpg_cpu_seconds"),
            "client_cpu_seconds_median": self.median("client_cpu_seconds"),
            "gpg_fsync_seconds_median": self.median("gpg_fsync_seconds"),
            "ingest_cpu_ratio": (
                self.median("worker_cpu_seconds")
                + self.median("gpg_in_server_cpu_seconds")
                + self.median("client_cpu_seconds")
            )
            / self.median("gpg_cpu_seconds"),
            "others_cpu_seconds_during_ingest_median": self.median("others_cpu_seconds"),
            "others_cpu_seconds_during_gpg_median": self.median("gpg_others_cpu_seconds"),
            "load_average_start": self.load_start,
            "load_average_end": self.load_end,
            "sampled_gpg_child_peak_mib_max": max(r.sampled_gpg_child_peak_mib for r in self.runs),
            "worker_rss_at_start_mib": self.worker_rss_at_start_mib,
            "worker_rss_at_end_mib": self.worker_rss_at_end_mib,
            "peak_reset_with_clear_refs": self.peak_reset,
        }


@dataclass
class Instance:
    data_dir: Path
    airgap_home: Path
    fingerprint: str


def make_instance(work: Path) -> Instance:
    for name in ("airgap", "data"):
        shutil.rmtree(work / name, ignore_errors=True)
    airgap_home = work / "airgap" / "gnupg"
    fingerprint = generate_key(airgap_home, "Bench Ombuds", "")
    public = work / "airgap" / "public.asc"
    export_public_key(airgap_home, fingerprint, public)
    data_dir = work / "data"
    initialize(data_dir, public, "Bench Ombuds Office")
    return Instance(data_dir.resolve(), airgap_home, fingerprint)


def random_file(files: Path, size_mib: int) -> Path:
    """Return a file of size_mib random MiB, reusing one left by an earlier --keep run."""
    path = files / f"random-{size_mib}MiB.bin"
    if path.exists() and path.stat().st_size == size_mib * MIB:
        return path
    files.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    with partial.open("wb") as f:
        for _ in range(size_mib):
            f.write(os.urandom(MIB))
    partial.rename(path)
    return path


def warm(path: Path) -> None:
    """Read the file once so that both gpg and the client read it from the page cache."""
    with path.open("rb", buffering=0) as f:
        buffer = bytearray(CHUNK)
        while f.readinto(buffer):
            pass


def mib(kib: int) -> float:
    return kib / 1024


def bench_size(
    instance: Instance, work: Path, size_mib: int, runs: int, deep_check: bool
) -> SizeResult:
    source_file = random_file(work / "files", size_mib)
    warm(source_file)
    override = BIG_MAX_UPLOAD if size_mib * MIB > DEFAULT_MAX_UPLOAD else None
    result = SizeResult(size_mib, max_upload_override=override, load_start=load_average())
    store = instance.data_dir / "store"
    gpg_home = instance.data_dir / "gnupg"
    baseline_out = work / "baseline.gpg"
    server = start_server(instance.data_dir, work, override)
    try:
        worker = server.worker_pid()
        browser = sign_up(server)
        result.worker_rss_at_start_mib = mib(proc_status_kib(worker, "VmRSS"))
        for index in range(1, runs + 1):
            print(f"  {size_mib} MiB run {index}/{runs}: gpg", end="", flush=True)
            os.sync()
            gpg = run_gpg(gpg_home, instance.fingerprint, source_file, baseline_out)
            baseline_out.unlink()
            print(f" {gpg.seconds:.2f} s, ingest", end="", flush=True)
            os.sync()
            before_docs = stored_docs(store)
            time.sleep(0.2)
            rss_before = proc_status_kib(worker, "VmRSS")
            result.peak_reset = reset_peak_rss(worker) and result.peak_reset
            cpu0 = cpu_seconds(worker)
            busy0, own0 = machine_busy_seconds(), own_cpu_seconds()
            sampler = RssSampler(worker)
            sampler.start()
            try:
                sent = post_file(server, browser, source_file)
            finally:
                sampler.stop()
            busy1, own1 = machine_busy_seconds(), own_cpu_seconds()
            cpu1 = cpu_seconds(worker)
            peak = proc_status_kib(worker, "VmHWM")
            rss_after = proc_status_kib(worker, "VmRSS")
            print(f" {sent.seconds:.2f} s", flush=True)
            if sent.status != 302 or not sent.location.endswith("/lookup"):
                raise BenchError(
                    f"/submit answered {sent.status} {sent.location!r}\n{server.log_text()}"
                )
            new_docs = stored_docs(store) - before_docs
            if len(new_docs) != 1:
                raise BenchError(f"expected one new stored document, found {sorted(new_docs)}")
            stored = new_docs.pop()
            run = RunResult(
                run=index,
                ingest_seconds=sent.seconds,
                send_seconds=sent.send_seconds,
                tail_seconds=sent.seconds - sent.send_seconds,
                client_cpu_seconds=sent.client_cpu_seconds,
                worker_cpu_seconds=cpu1[0] - cpu0[0],
                gpg_in_server_cpu_seconds=cpu1[1] - cpu0[1],
                others_cpu_seconds=(busy1 - busy0)
                - (cpu1[0] - cpu0[0])
                - (cpu1[1] - cpu0[1])
                - (own1 - own0),
                gpg_seconds=gpg.seconds,
                gpg_cpu_seconds=gpg.cpu_seconds,
                gpg_max_rss_mib=mib(gpg.max_rss_kib),
                gpg_fsync_seconds=gpg.fsync_seconds,
                gpg_others_cpu_seconds=gpg.others_cpu_seconds,
                rss_before_mib=mib(rss_before),
                peak_rss_mib=mib(peak),
                growth_mib=mib(peak - rss_before),
                rss_after_mib=mib(rss_after),
                sampled_worker_peak_mib=mib(sampler.worker_peak_kib),
                sampled_gpg_child_peak_mib=mib(sampler.child_peak_kib),
                ciphertext_bytes=stored.stat().st_size,
                baseline_ciphertext_bytes=gpg.out_bytes,
                server_tmpdir_entries=tree_listing(server.temp_dir),
                staging_entries=tree_listing(store / ".staging"),
            )
            result.runs.append(run)
            if deep_check and index == 1:
                result.verification = verify(instance, source_file, stored, run)
            stored.unlink()  # keep disk use bounded; the checks above are done
        result.worker_rss_at_end_mib = mib(proc_status_kib(worker, "VmRSS"))
        result.load_end = load_average()
    finally:
        server.stop()
    return result


def verify(instance: Instance, plain: Path, stored: Path, run: RunResult) -> dict[str, Any]:
    """Check the stored ciphertext once: present, uncompressed, decryptable, no plaintext."""
    plain_size = plain.stat().st_size
    overhead = run.ciphertext_bytes - plain_size
    # Random data with --compress-algo none: ciphertext = plaintext + packet headers, the
    # session key and the MDC. Streamed from a pipe, gpg writes partial-length packets, a
    # length byte per chunk (about 0.03 %). Compression would not shrink random data,
    # so "not compressed" is also checked in gpg's packet list.
    packets = subprocess.run(
        ["gpg", "--homedir", str(instance.airgap_home), "--batch", "--pinentry-mode",
         "loopback", "--passphrase", "", "--list-packets", str(stored)],
        capture_output=True, check=False,
    )  # fmt: skip
    listing = packets.stdout.decode(errors="replace")
    with plain.open("rb") as f:
        probe = f.read(64)
    with stored.open("rb") as f:
        head = f.read(4 * MIB)
    result = {
        "stored_file": str(stored.relative_to(instance.data_dir)),
        "plaintext_bytes": plain_size,
        "ciphertext_bytes": run.ciphertext_bytes,
        "overhead_bytes": overhead,
        "baseline_ciphertext_bytes": run.baseline_ciphertext_bytes,
        "size_ok": 0 < overhead <= plain_size // 1000 + 4096,
        "compressed_packet_present": ":compressed packet:" in listing,
        "plaintext_probe_in_ciphertext": probe in head,
        "server_tmpdir_entries": run.server_tmpdir_entries,
        "server_tmpdir_empty": not run.server_tmpdir_entries,
        "staging_entries": run.staging_entries,
        "staging_empty": not run.staging_entries,
    }
    result["decrypts_to_plaintext"] = decrypt_digest(instance.airgap_home, stored) == sha256_file(
        plain
    )
    result["ok"] = (
        result["size_ok"]
        and not result["compressed_packet_present"]
        and not result["plaintext_probe_in_ciphertext"]
        and result["server_tmpdir_empty"]
        and result["staging_empty"]
        and result["decrypts_to_plaintext"]
    )
    return result


# -- report -------------------------------------------------------------------------------


def yes_no(value: bool) -> str:
    return "yes" if value else "NO"


def print_report(results: list[SizeResult]) -> None:
    summaries = [r.summary() for r in results]
    print()
    print("Ingest over HTTP vs `gpg --encrypt --compress-algo none` (medians; same file, same key)")
    header = (
        f"{'size':>9} {'runs':>4} {'ingest s':>9} {'gpg s':>7} {'ratio':>6} "
        f"{'<=1.5x':>6} {'vs gpg+fsync':>12} {'ingest MiB/s':>12} {'gpg MiB/s':>9}"
    )
    print(header)
    print("-" * len(header))
    for s in summaries:
        print(
            f"{s['size_mib']:>5} MiB {s['runs']:>4} {s['ingest_seconds_median']:>9.2f} "
            f"{s['gpg_seconds_median']:>7.2f} {s['ratio']:>6.2f} {yes_no(s['ratio_met']):>6} "
            f"{s['ratio_vs_gpg_and_fsync']:>12.2f} "
            f"{s['ingest_mib_per_s']:>12.0f} {s['gpg_mib_per_s']:>9.0f}"
        )
    print("  (vs gpg+fsync: ingest / (gpg + fsync of gpg's output): the server makes every")
    print("   submission durable before it says thank you; raw gpg's output is still in the cache)")
    print()
    print("Worker RSS (MiB): before the upload, peak (VmHWM) during it, growth = peak - before")
    header = (
        f"{'size':>9} {'before':>7} {'peak':>7} {'growth':>7} {'worst':>7} {'<=64':>5} "
        f"{'start':>7} {'end':>7} {'gpg child':>9}"
    )
    print(header)
    print("-" * len(header))
    for s in summaries:
        print(
            f"{s['size_mib']:>5} MiB {s['rss_before_mib_median']:>7.1f} "
            f"{s['peak_rss_mib_median']:>7.1f} {s['growth_mib_median']:>7.1f} "
            f"{s['growth_mib_worst']:>7.1f} {yes_no(s['growth_met']):>5} "
            f"{s['worker_rss_at_start_mib']:>7.1f} {s['worker_rss_at_end_mib']:>7.1f} "
            f"{s['sampled_gpg_child_peak_mib_max']:>9.1f}"
        )
    print("  (growth: median and worst run; start/end: worker RSS after signup and after the")
    print("   last run; gpg child: the server's gpg process, sampled, not counted in growth)")
    print()
    print("Where the ingest time goes (medians, seconds)")
    header = (
        f"{'size':>9} {'send':>6} {'tail':>6} {'worker CPU':>10} {'gpg CPU srv':>11} "
        f"{'gpg CPU base':>12} {'client CPU':>10} {'CPU ratio':>9} {'base fsync':>10}"
    )
    print(header)
    print("-" * len(header))
    for s in summaries:
        print(
            f"{s['size_mib']:>5} MiB {s['send_seconds_median']:>6.2f} "
            f"{s['tail_seconds_median']:>6.2f} {s['worker_cpu_seconds_median']:>10.2f} "
            f"{s['gpg_in_server_cpu_seconds_median']:>11.2f} "
            f"{s['gpg_cpu_seconds_median']:>12.2f} {s['client_cpu_seconds_median']:>10.2f} "
            f"{s['ingest_cpu_ratio']:>9.2f} {s['gpg_fsync_seconds_median']:>10.2f}"
        )
    print("  (send: until the last body byte was handed to the socket; tail: from then to the")
    print("   302, i.e. gpg draining, fsync, database; base fsync: an fsync of the baseline's")
    print("   output, which the baseline time does not include but the ingest time does;")
    print("   CPU ratio: (worker + its gpg + client CPU) / baseline gpg CPU, which other load")
    print("   on the machine disturbs less than wall-clock time)")
    print()
    print("Other load: CPU seconds the machine spent on anything but the measured processes")
    print("(other programs, and kernel threads such as writeback) during a run, median")
    for s in summaries:
        busy = max(s["others_cpu_seconds_during_ingest_median"], 0.0)
        print(
            f"{s['size_mib']:>5} MiB  during ingest {busy:.2f} s "
            f"({busy / s['ingest_seconds_median']:.0%} of a CPU), during gpg "
            f"{max(s['others_cpu_seconds_during_gpg_median'], 0.0):.2f} s; load average "
            f"{s['load_average_start']:.1f} -> {s['load_average_end']:.1f}"
        )
        if busy / s["ingest_seconds_median"] > OTHER_LOAD_WARNING:
            print("           WARNING: the machine was busy; wall-clock figures are disturbed")
    for r in results:
        if r.verification:
            v = r.verification
            print()
            print(f"Correctness check ({r.size_mib} MiB, run 1): {'ok' if v['ok'] else 'FAILED'}")
            print(
                f"  stored {v['stored_file']}: {v['ciphertext_bytes']} bytes for "
                f"{v['plaintext_bytes']} plaintext (+{v['overhead_bytes']}); compressed packet: "
                f"{yes_no(v['compressed_packet_present']).lower()}; decrypts to the same "
                f"SHA-256: {yes_no(v['decrypts_to_plaintext']).lower()}"
            )
            print(
                f"  server TMPDIR entries: {v['server_tmpdir_entries'] or 'none'}; staging "
                f"entries: {v['staging_entries'] or 'none'}; plaintext bytes in ciphertext: "
                f"{yes_no(v['plaintext_probe_in_ciphertext']).lower()}"
            )
    leftovers = [
        (r.size_mib, run.run, run.server_tmpdir_entries + run.staging_entries)
        for r in results
        for run in r.runs
        if run.server_tmpdir_entries or run.staging_entries
    ]
    for size_mib, index, entries in leftovers:
        print(f"WARNING: {size_mib} MiB run {index} left files behind: {entries}")
    if not all(r.peak_reset for r in results):
        print("WARNING: the kernel refused clear_refs; VmHWM includes the signup's Argon2id peak")


def gpg_version() -> str:
    done = subprocess.run(["gpg", "--version"], capture_output=True, check=False)
    return done.stdout.decode(errors="replace").splitlines()[0] if done.stdout else "?"


def write_json(results: list[SizeResult], path: Path, args: argparse.Namespace) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": "ingest",
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": {
            "cpus": os.cpu_count(),
            "kernel": platform.release(),
            "python": platform.python_version(),
            "gpg": gpg_version(),
        },
        "settings": {
            "quick": args.quick,
            "server": "sdlite serve source --workers 1 --threads 4 (default KDF profile)",
            "chunk_bytes": CHUNK,
            "ratio_target": RATIO_TARGET,
            "growth_target_mib": RSS_TARGET_MIB,
        },
        "sizes": [
            {
                "summary": r.summary(),
                "max_upload_bytes_override": r.max_upload_override,
                "verification": r.verification,
                "runs": [asdict(run) for run in r.runs],
            }
            for r in results
        ],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


def kill_agents(homes: list[Path]) -> None:
    for home in homes:
        if home.is_dir():
            subprocess.run(
                ["gpgconf", "--homedir", str(home), "--kill", "all"],
                capture_output=True,
                check=False,
            )


def remove_work(work: Path) -> None:
    """Remove what this benchmark made in work, then work itself if nothing else is there."""
    for name in ("files", "airgap", "data", "server-tmp"):
        shutil.rmtree(work / name, ignore_errors=True)
    for name in ("server.log", "baseline.gpg"):
        (work / name).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        work.rmdir()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="64 and 128 MiB only")
    parser.add_argument("--sizes", help="comma-separated sizes in MiB, e.g. 256,1024")
    parser.add_argument("--runs", type=int, help="runs per size (default 5 / 3 for >= 1 GiB)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--json", type=Path, default=OUT_JSON, help="machine-readable output")
    return parser.parse_args(argv)


def plan(args: argparse.Namespace) -> list[tuple[int, int]]:
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
        chosen = [(s, 3 if s >= 1024 else 5) for s in sizes]
    else:
        chosen = QUICK_PLAN if args.quick else FULL_PLAN
    if args.runs:
        chosen = [(s, args.runs) for s, _ in chosen]
    return chosen


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = plan(args)
    work: Path = args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    largest = max(s for s, _ in sizes) * MIB
    needed = sum(s for s, _ in sizes) * MIB + 3 * largest
    free = shutil.disk_usage(work).free
    if free < needed:
        print(f"error: {work} needs about {needed // MIB} MiB free, has {free // MIB}")
        return 2
    print(f"Ingest benchmark in {work}: " + ", ".join(f"{s} MiB x{n}" for s, n in sizes))
    instance = make_instance(work)
    results: list[SizeResult] = []
    try:
        deep_size = next((s for s, _ in sizes if s >= 256), sizes[0][0])
        for size_mib, runs in sizes:
            results.append(bench_size(instance, work, size_mib, runs, size_mib == deep_size))
    except BenchError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    finally:
        kill_agents([instance.airgap_home, instance.data_dir / "gnupg"])
        if not args.keep:
            remove_work(work)
    print_report(results)
    write_json(results, args.json, args)
    print(f"\nWrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
