"""One size: start the server, sign a source up, then alternate gpg and the ingest, run by run."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.common import MIB, BenchError, Instance, mib, read_through
from bench.ingest.baseline import GpgRun, run_gpg
from bench.ingest.checks import stored_docs, tree_listing, verify
from bench.ingest.results import RunResult, SizeResult
from bench.ingest.upload import CHUNK, Sent, post_file, sign_up
from bench.proc import RssSampler, WorkerUse, load_average, proc_status_kib, watch_worker
from bench.server import Server, clean_env, start_server

DEFAULT_MAX_UPLOAD = 500 * MIB  # the instance default; bigger files need the override
BIG_MAX_UPLOAD = 2 * 1024 * MIB
SAMPLE_INTERVAL = 0.01


@dataclass
class Setup:
    """What every run of one size uses."""

    instance: Instance
    size_mib: int
    source_file: Path
    baseline_out: Path
    server: Server
    browser: requests.Session
    worker: int

    @property
    def store(self) -> Path:
        return self.instance.data_dir / "store"


@dataclass
class Ingested:
    sent: Sent
    use: WorkerUse
    sampled_worker_peak_kib: int
    sampled_gpg_child_peak_kib: int
    stored: Path  # the ciphertext the upload left in the store


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


def baseline(setup: Setup) -> GpgRun:
    os.sync()
    instance = setup.instance
    gpg_home = instance.data_dir / "gnupg"
    gpg = run_gpg(gpg_home, instance.fingerprint, setup.source_file, setup.baseline_out)
    setup.baseline_out.unlink()
    return gpg


def ingest(setup: Setup) -> Ingested:
    """Upload the file once, sampling the worker's and its gpg's RSS; find what it stored."""
    os.sync()
    before_docs = stored_docs(setup.store)
    sampler = RssSampler(setup.worker, SAMPLE_INTERVAL)

    def upload() -> Sent:
        sampler.start()
        try:
            return post_file(setup.server, setup.browser, setup.source_file)
        finally:
            sampler.stop()

    sent, use = watch_worker(setup.worker, upload)
    print(f" {sent.seconds:.2f} s", flush=True)
    if sent.status != 302 or not sent.location.endswith("/lookup"):
        raise BenchError(
            f"/submit answered {sent.status} {sent.location!r}\n{setup.server.log_text()}"
        )
    new_docs = stored_docs(setup.store) - before_docs
    if len(new_docs) != 1:
        raise BenchError(f"expected one new stored document, found {sorted(new_docs)}")
    return Ingested(sent, use, sampler.worker_peak_kib, sampler.child_peak_kib, new_docs.pop())


def run_result(index: int, gpg: GpgRun, done: Ingested, setup: Setup) -> RunResult:
    sent, use = done.sent, done.use
    return RunResult(
        run=index,
        ingest_seconds=sent.seconds,
        send_seconds=sent.send_seconds,
        tail_seconds=sent.seconds - sent.send_seconds,
        client_cpu_seconds=sent.client_cpu_seconds,
        worker_cpu_seconds=use.cpu_seconds,
        gpg_in_server_cpu_seconds=use.children_cpu_seconds,
        others_cpu_seconds=use.others_cpu_seconds(use.children_cpu_seconds),
        gpg_seconds=gpg.seconds,
        gpg_cpu_seconds=gpg.cpu_seconds,
        gpg_max_rss_mib=mib(gpg.max_rss_kib),
        gpg_fsync_seconds=gpg.fsync_seconds,
        gpg_others_cpu_seconds=gpg.others_cpu_seconds,
        **use.rss_mib(),
        sampled_worker_peak_mib=mib(done.sampled_worker_peak_kib),
        sampled_gpg_child_peak_mib=mib(done.sampled_gpg_child_peak_kib),
        ciphertext_bytes=done.stored.stat().st_size,
        baseline_ciphertext_bytes=gpg.out_bytes,
        server_tmpdir_entries=tree_listing(setup.server.temp_dir),
        staging_entries=tree_listing(setup.store / ".staging"),
    )


def run_all(setup: Setup, result: SizeResult, runs: int, deep_check: bool) -> None:
    """Alternate the baseline and the ingest runs times; check the first run's ciphertext."""
    for index in range(1, runs + 1):
        print(f"  {setup.size_mib} MiB run {index}/{runs}: gpg", end="", flush=True)
        gpg = baseline(setup)
        print(f" {gpg.seconds:.2f} s, ingest", end="", flush=True)
        done = ingest(setup)
        result.peak_reset = done.use.peak_reset and result.peak_reset
        run = run_result(index, gpg, done, setup)
        result.runs.append(run)
        if deep_check and index == 1:
            result.verification = verify(setup.instance, setup.source_file, done.stored, run)
        done.stored.unlink()  # keep disk use bounded; the checks above are done


def bench_size(
    instance: Instance, work: Path, size_mib: int, runs: int, deep_check: bool
) -> SizeResult:
    source_file = random_file(work / "files", size_mib)
    read_through(source_file, bytearray(CHUNK))  # so that gpg and the client read the cache
    override = BIG_MAX_UPLOAD if size_mib * MIB > DEFAULT_MAX_UPLOAD else None
    result = SizeResult(size_mib, max_upload_override=override, load_start=load_average())
    env = clean_env()
    if override is not None:
        env["SDLITE_MAX_UPLOAD_BYTES"] = str(override)
    server = start_server("source", instance.data_dir, work, env, "/robots.txt")
    try:
        worker = server.worker_pid()
        browser = sign_up(server)
        result.worker_rss_at_start_mib = mib(proc_status_kib(worker, "VmRSS"))
        setup = Setup(
            instance, size_mib, source_file, work / "baseline.gpg", server, browser, worker
        )
        run_all(setup, result, runs, deep_check)
        result.worker_rss_at_end_mib = mib(proc_status_kib(worker, "VmRSS"))
        result.load_end = load_average()
    finally:
        server.stop()
    return result
