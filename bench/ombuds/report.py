"""The ombuds benchmark's tables, warnings and JSON."""

from __future__ import annotations

import statistics
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.common import MIB, RSS_TARGET_MIB
from bench.ombuds.data import Dataset
from bench.ombuds.pages import Page
from bench.ombuds.plan import (
    INBOX_TARGET_MS,
    ITEMS_PER_SOURCE,
    WARMUPS,
    ZIP_FILES,
    ZIP_RATIO_TARGET,
    Plan,
)
from bench.ombuds.results import METHODS, DownloadResult
from bench.report import document_head, print_header, warn_if_busy, write_document, yes_no
from bench.results_md import command_of, figure


def print_pages(pages: list[Page], dataset: Dataset, others_share: float) -> None:
    baseline = statistics.median(pages[0].render_ms)
    print()
    print(
        f"Ombuds pages, in-process test client: {dataset.sources:,} sources, "
        f"{dataset.submissions + dataset.replies:,} items (medians of {len(pages[0].render_ms)})"
    )
    print_header(
        f"{'page':<20} {'ms':>7} {'min':>7} {'max':>7} {'x base':>6} {'SQL':>4} "
        f"{'SQL ms':>7} {'service ms':>10} {'<=100 ms':>8}"
    )
    for page in pages:
        s = page.summary(baseline)
        service = "" if s["service_ms_median"] is None else f"{s['service_ms_median']:.2f}"
        target = "" if s["target_met"] is None else yes_no(s["target_met"])
        vary = "*" if s["statements_vary"] else ""
        print(
            f"{page.name:<20} {s['render_ms_median']:>7.2f} {s['render_ms_min']:>7.2f} "
            f"{s['render_ms_max']:>7.2f} {s['vs_baseline']:>6.2f} {s['statements']:>3}{vary:1} "
            f"{s['sql_ms_median']:>7.2f} {service:>10} {target:>8}"
        )
    print("  (ms: wall time of the whole request; x base: / the account page, which pays the")
    print("   same login check, session and layout; SQL: statements per request, SQL ms: time")
    print("   inside them; service ms: the inbox service call alone, outside a request)")
    if any(p.summary(baseline)["statements_vary"] for p in pages):
        print("  * the statement count varied between requests; the largest is shown")
    print(f"  other load during the pages: {others_share:.0%} of a CPU")
    warn_if_busy(others_share)


def print_throughput(result: DownloadResult) -> None:
    s = result.summary()
    print()
    print(
        f"Zip of {ZIP_FILES} files ({s['payload_mib']:.0f} MiB of random bytes) over HTTP, "
        f"against cat of the same page-cached files ({s['runs']} runs)"
    )
    print_header(
        f"{'':<21} {'median s':>8} {'best s':>6} {'MiB/s':>6} {'zip/this':>8} {'best':>5} "
        f"{'>=0.7x':>6} {'CPU s':>5} {'others':>6}"
    )
    for name, label in METHODS.items():
        m = s[name]
        ratios = ""
        if name != "zip":
            met = yes_no(m["zip_ratio_met"])
            ratios = f"{m['zip_ratio']:>8.2f} {m['zip_ratio_best']:>5.2f} {met:>6}"
        print(
            f"{label:<21} {m['seconds_median']:>8.2f} {m['seconds_best']:>6.2f} "
            f"{m['mib_per_s']:>6.0f} {ratios:>21} {m['cpu_seconds_median']:>5.2f} "
            f"{m['others_cpu_share']:>6.0%}"
        )
    print("  (MiB/s: MiB of the files per second, median; zip/this: zip throughput / this")
    print("   line's, from the medians, and from the best runs; CPU s: gunicorn worker + client")
    print(
        f"   for the zip ({s['zip_worker_cpu_seconds_median']:.2f} + "
        f"{s['zip_client_cpu_seconds_median']:.2f} s, {s['pipe']['zip_cpu_ratio']:.1f}x the "
        "pipe's), cat + reader for the pipe;"
    )
    print("   others: CPU that anything else used meanwhile, as a share of one CPU)")
    busiest = max(s[name]["others_cpu_share"] for name in METHODS)
    warn_if_busy(busiest, disturbed="wall-clock figures and ratios are")


def print_memory(result: DownloadResult) -> None:
    s = result.summary()
    print()
    print("Worker RSS (MiB): before the download, peak (VmHWM) during it, growth = peak - before")
    print_header(
        f"{'before':>7} {'peak':>7} {'growth':>7} {'worst':>7} {'<=64':>5} {'start':>7} {'end':>7}"
    )
    print(f"{s['rss_before_mib_median']:>7.1f} {s['peak_rss_mib_median']:>7.1f} "
          f"{s['growth_mib_median']:>7.1f} {s['growth_mib_worst']:>7.1f} "
          f"{yes_no(s['growth_met']):>5} {s['worker_rss_at_start_mib']:>7.1f} "
          f"{s['worker_rss_at_end_mib']:>7.1f}")  # fmt: skip
    print("  (growth: median and worst run; start/end: worker RSS after login and after the")
    print(
        f"   last run; load average {s['load_average_start']:.1f} -> {s['load_average_end']:.1f})"
    )
    if not s["peak_reset_with_clear_refs"]:
        print("WARNING: the kernel refused clear_refs; VmHWM holds earlier peaks")


def print_download(result: DownloadResult) -> None:
    print_throughput(result)
    print_memory(result)
    v = result.verification
    print()
    print(
        f"Archive check (every run): {'ok' if v['ok'] else 'FAILED'}: {v['body_bytes']} bytes "
        f"= Content-Length; {ZIP_FILES} stored members with the files' sizes and CRC-32s; "
        f"{v['overhead_bytes']} bytes of zip structure"
    )


def figures(pages: list[Page], download: DownloadResult) -> list[dict[str, Any]]:
    """Return the figures of bench/RESULTS.md: the pages, the zip's throughput, RSS growth."""
    command = command_of("bench.ombuds")
    account = "account page (the same login check, session and layout)"
    found = [
        figure(page.name, "ms", page.render_ms, better="lower", command=command,
               baseline=account, baseline_values=pages[0].render_ms, limit=page.target_ms)
        for page in pages[1:]
    ]  # fmt: skip
    payload_mib = download.payload_bytes / MIB
    zip_name = f"zip download of {payload_mib:.0f} MiB over HTTP"
    zip_mib_s = [payload_mib / run.zip_seconds for run in download.runs]
    # (name, baseline method, target): the target is against cat | reader.
    for name, method, target in ((zip_name, "pipe", ZIP_RATIO_TARGET),
                                 (f"{zip_name}, against /dev/null", "null", None)):  # fmt: skip
        baseline_mib_s = [payload_mib / getattr(run, f"{method}_seconds") for run in download.runs]
        found.append(
            figure(name, "MiB/s", zip_mib_s, better="higher", command=command,
                   baseline=f"{METHODS[method]}, same page-cached files",
                   baseline_values=baseline_mib_s, ratio_target=target)
        )  # fmt: skip
    found.append(
        figure("worker RSS growth during the download", "MiB",
               [run.growth_mib for run in download.runs], better="lower", command=command,
               limit=RSS_TARGET_MIB, limit_on="worst")
    )  # fmt: skip
    return found


def write_json(
    path: Path, plan: Plan, dataset: Dataset, pages: list[Page], others_share: float,
    download: DownloadResult,
) -> None:  # fmt: skip
    baseline = statistics.median(pages[0].render_ms)
    document = {
        **document_head("ombuds"),
        "settings": {
            **asdict(plan),
            "server": "sdlite serve journalist --workers 1 --threads 4 (test KDF profile)",
            "warmups": WARMUPS,
            "inbox_target_ms": INBOX_TARGET_MS,
            "zip_ratio_target": ZIP_RATIO_TARGET,
            "growth_target_mib": RSS_TARGET_MIB,
        },
        "figures": figures(pages, download),
        "dataset": {
            "sources": dataset.sources,
            "submissions": dataset.submissions,
            "replies": dataset.replies,
            "starred": dataset.starred,
            "items_per_source": ITEMS_PER_SOURCE,
            "download_files": ZIP_FILES,
        },
        "pages": [page.summary(baseline) for page in pages],
        "pages_other_load_cpu_share": others_share,
        "download": {
            "summary": download.summary(),
            "verification": download.verification,
            "runs": [asdict(run) for run in download.runs],
        },
    }
    write_document(path, document)
