"""The download runs: both cat baselines, then the zip from the real server, run by run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from bench.common import BenchError, mib
from bench.ombuds.archive import Downloaded, download_all, verify_archive
from bench.ombuds.baseline import run_cat
from bench.ombuds.data import Dataset
from bench.ombuds.login import log_in_http
from bench.ombuds.plan import instance_env
from bench.ombuds.results import DownloadResult, DownloadRun
from bench.proc import load_average, proc_status_kib, watch_worker
from bench.server import Server, start_server
from securedrop_lite.services.users import NewCredentials


def timed_download(
    server: Server, browser: requests.Session, worker: int, ref: str
) -> tuple[Downloaded, dict[str, float], bool]:
    """Download once; return it, the worker's RSS and CPU figures, and whether VmHWM reset."""
    downloaded, use = watch_worker(worker, lambda: download_all(server, browser, ref))
    figures = {
        "zip_cpu_seconds": use.cpu_seconds + downloaded.client_cpu_seconds,
        "zip_worker_cpu_seconds": use.cpu_seconds,
        "zip_others_cpu_seconds": use.others_cpu_seconds(),
        **use.rss_mib(),
    }
    return downloaded, figures, use.peak_reset


def one_round(
    server: Server, browser: requests.Session, worker: int, dataset: Dataset, index: int
) -> tuple[DownloadRun, dict[str, Any], bool]:
    """Run both baselines, then the download; return the run, the archive check, the reset."""
    print(f"  download run {index}: cat|pipe", end="", flush=True)
    pipe = run_cat(dataset.files, to_pipe=True)
    print(f" {pipe.seconds:.2f} s, cat>null", end="", flush=True)
    null = run_cat(dataset.files, to_pipe=False)
    print(f" {null.seconds:.2f} s, zip", end="", flush=True)
    downloaded, figures, reset = timed_download(server, browser, worker, dataset.download_ref)
    print(f" {downloaded.seconds:.2f} s", flush=True)
    check = verify_archive(downloaded, dataset.files)
    if not check["ok"]:
        raise BenchError(f"the archive of run {index} is wrong: {check}")
    run = DownloadRun(
        run=index,
        zip_seconds=downloaded.seconds,
        zip_client_cpu_seconds=downloaded.client_cpu_seconds,
        zip_body_bytes=downloaded.body_bytes,
        pipe_seconds=pipe.seconds,
        pipe_cpu_seconds=pipe.cat_cpu_seconds + pipe.reader_cpu_seconds,
        pipe_cat_cpu_seconds=pipe.cat_cpu_seconds,
        pipe_reader_cpu_seconds=pipe.reader_cpu_seconds,
        pipe_others_cpu_seconds=pipe.others_cpu_seconds,
        null_seconds=null.seconds,
        null_cpu_seconds=null.cat_cpu_seconds,
        null_others_cpu_seconds=null.others_cpu_seconds,
        **figures,
    )
    return run, check, reset


def bench_download(
    data_dir: Path, work: Path, dataset: Dataset, runs: int, credentials: NewCredentials
) -> DownloadResult:
    result = DownloadResult(sum(f.size for f in dataset.files), load_start=load_average())
    server = start_server("journalist", data_dir, work, instance_env(), "/login")
    try:
        worker = server.worker_pid()
        browser = log_in_http(server, credentials)
        result.worker_rss_at_start_mib = mib(proc_status_kib(worker, "VmRSS"))
        for index in range(1, runs + 1):
            run, check, reset = one_round(server, browser, worker, dataset, index)
            result.runs.append(run)
            result.verification = result.verification or check
            result.peak_reset = result.peak_reset and reset
        result.worker_rss_at_end_mib = mib(proc_status_kib(worker, "VmRSS"))
        result.load_end = load_average()
    finally:
        server.stop()
    return result
