"""What one ingest run measured, and the medians and targets over the runs of one size."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from bench.common import RSS_TARGET_MIB

RATIO_TARGET = 1.5  # ingest time / gpg time


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
