"""What one download run measured, and the medians, ratios and targets over the runs."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from bench.common import MIB, RSS_TARGET_MIB
from bench.ombuds.plan import ZIP_RATIO_TARGET

# The three ways of moving the files, as named in DownloadRun's fields and in the summary.
METHODS = {"zip": "zip download (HTTP)", "pipe": "cat | reader (1 MiB)", "null": "cat > /dev/null"}


@dataclass
class DownloadRun:
    run: int
    zip_seconds: float
    zip_cpu_seconds: float  # worker + client
    zip_worker_cpu_seconds: float
    zip_client_cpu_seconds: float
    zip_others_cpu_seconds: float
    zip_body_bytes: int
    rss_before_mib: float
    peak_rss_mib: float
    growth_mib: float
    rss_after_mib: float
    pipe_seconds: float
    pipe_cpu_seconds: float  # cat + reader
    pipe_cat_cpu_seconds: float
    pipe_reader_cpu_seconds: float
    pipe_others_cpu_seconds: float
    null_seconds: float
    null_cpu_seconds: float
    null_others_cpu_seconds: float


@dataclass
class DownloadResult:
    payload_bytes: int
    runs: list[DownloadRun] = field(default_factory=list)
    verification: dict[str, Any] = field(default_factory=dict)
    peak_reset: bool = True
    worker_rss_at_start_mib: float = 0.0
    worker_rss_at_end_mib: float = 0.0
    load_start: float = 0.0
    load_end: float = 0.0

    def median(self, name: str) -> float:
        return float(statistics.median(getattr(r, name) for r in self.runs))

    def method(self, name: str) -> dict[str, Any]:
        seconds = self.median(f"{name}_seconds")
        best = min(getattr(r, f"{name}_seconds") for r in self.runs)
        payload_mib = self.payload_bytes / MIB
        return {
            "seconds_median": seconds,
            "seconds_best": best,
            "mib_per_s": payload_mib / seconds,
            "mib_per_s_best": payload_mib / best,
            "cpu_seconds_median": self.median(f"{name}_cpu_seconds"),
            "others_cpu_share": max(self.median(f"{name}_others_cpu_seconds"), 0.0) / seconds,
        }

    def summary(self) -> dict[str, Any]:
        methods = {name: self.method(name) for name in METHODS}
        zip_ = methods["zip"]
        for name in ("pipe", "null"):
            # Throughput ratios, zip / cat: higher is better.
            baseline = methods[name]
            baseline["zip_ratio"] = zip_["mib_per_s"] / baseline["mib_per_s"]
            baseline["zip_ratio_best"] = zip_["mib_per_s_best"] / baseline["mib_per_s_best"]
            baseline["zip_ratio_met"] = baseline["zip_ratio"] >= ZIP_RATIO_TARGET
            baseline["zip_cpu_ratio"] = zip_["cpu_seconds_median"] / baseline["cpu_seconds_median"]
        worst = max(r.growth_mib for r in self.runs)
        return {
            "payload_mib": self.payload_bytes / MIB,
            "runs": len(self.runs),
            **methods,
            "ratio_target": ZIP_RATIO_TARGET,
            "zip_worker_cpu_seconds_median": self.median("zip_worker_cpu_seconds"),
            "zip_client_cpu_seconds_median": self.median("zip_client_cpu_seconds"),
            "rss_before_mib_median": self.median("rss_before_mib"),
            "peak_rss_mib_median": self.median("peak_rss_mib"),
            "growth_mib_median": self.median("growth_mib"),
            "growth_mib_worst": worst,
            "growth_target_mib": RSS_TARGET_MIB,
            "growth_met": worst <= RSS_TARGET_MIB,
            "worker_rss_at_start_mib": self.worker_rss_at_start_mib,
            "worker_rss_at_end_mib": self.worker_rss_at_end_mib,
            "peak_reset_with_clear_refs": self.peak_reset,
            "load_average_start": self.load_start,
            "load_average_end": self.load_end,
        }
