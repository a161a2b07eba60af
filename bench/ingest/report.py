"""The ingest benchmark's tables, warnings and JSON."""

from __future__ import annotations

import argparse
import subprocess
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.common import RSS_TARGET_MIB
from bench.ingest.results import RATIO_TARGET, SizeResult
from bench.ingest.upload import CHUNK
from bench.report import document_head, print_header, warn_if_busy, write_document, yes_no
from bench.results_md import command_of, figure


def print_times(summaries: list[dict[str, Any]]) -> None:
    print()
    print("Ingest over HTTP vs `gpg --encrypt --compress-algo none` (medians; same file, same key)")
    print_header(
        f"{'size':>9} {'runs':>4} {'ingest s':>9} {'gpg s':>7} {'ratio':>6} "
        f"{'<=1.5x':>6} {'vs gpg+fsync':>12} {'ingest MiB/s':>12} {'gpg MiB/s':>9}"
    )
    for s in summaries:
        print(
            f"{s['size_mib']:>5} MiB {s['runs']:>4} {s['ingest_seconds_median']:>9.2f} "
            f"{s['gpg_seconds_median']:>7.2f} {s['ratio']:>6.2f} {yes_no(s['ratio_met']):>6} "
            f"{s['ratio_vs_gpg_and_fsync']:>12.2f} "
            f"{s['ingest_mib_per_s']:>12.0f} {s['gpg_mib_per_s']:>9.0f}"
        )
    print("  (vs gpg+fsync: ingest / (gpg + fsync of gpg's output): the server makes every")
    print("   submission durable before it says thank you; raw gpg's output is still in the cache)")


def print_memory(summaries: list[dict[str, Any]]) -> None:
    print()
    print("Worker RSS (MiB): before the upload, peak (VmHWM) during it, growth = peak - before")
    print_header(
        f"{'size':>9} {'before':>7} {'peak':>7} {'growth':>7} {'worst':>7} {'<=64':>5} "
        f"{'start':>7} {'end':>7} {'gpg child':>9}"
    )
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


def print_breakdown(summaries: list[dict[str, Any]]) -> None:
    print()
    print("Where the ingest time goes (medians, seconds)")
    print_header(
        f"{'size':>9} {'send':>6} {'tail':>6} {'worker CPU':>10} {'gpg CPU srv':>11} "
        f"{'gpg CPU base':>12} {'client CPU':>10} {'CPU ratio':>9} {'base fsync':>10}"
    )
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


def print_other_load(summaries: list[dict[str, Any]]) -> None:
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
        warn_if_busy(busy / s["ingest_seconds_median"], indent=" " * 11)


def print_checks(results: list[SizeResult]) -> None:
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


def print_report(results: list[SizeResult]) -> None:
    summaries = [r.summary() for r in results]
    print_times(summaries)
    print_memory(summaries)
    print_breakdown(summaries)
    print_other_load(summaries)
    print_checks(results)


def gpg_version() -> str:
    done = subprocess.run(["gpg", "--version"], capture_output=True, check=False)
    return done.stdout.decode(errors="replace").splitlines()[0] if done.stdout else "?"


def figures(results: list[SizeResult]) -> list[dict[str, Any]]:
    """Return the figures of bench/RESULTS.md: time against gpg, and RSS growth, per size."""
    command = command_of("bench.ingest")
    found = []
    for r in results:
        found.append(
            figure(f"ingest of {r.size_mib} MiB over HTTP", "s",
                   [run.ingest_seconds for run in r.runs], better="lower", command=command,
                   baseline="gpg --encrypt --compress-algo none, same file and key",
                   baseline_values=[run.gpg_seconds for run in r.runs],
                   ratio_target=RATIO_TARGET)
        )  # fmt: skip
        found.append(
            figure(f"worker RSS growth, {r.size_mib} MiB upload", "MiB",
                   [run.growth_mib for run in r.runs], better="lower", command=command,
                   limit=RSS_TARGET_MIB, limit_on="worst")
        )  # fmt: skip
    return found


def write_json(results: list[SizeResult], path: Path, args: argparse.Namespace) -> None:
    document = {
        **document_head("ingest", gpg=gpg_version()),
        "settings": {
            "quick": args.quick,
            "server": "sdlite serve source --workers 1 --threads 4 (default KDF profile)",
            "chunk_bytes": CHUNK,
            "ratio_target": RATIO_TARGET,
            "growth_target_mib": RSS_TARGET_MIB,
        },
        "figures": figures(results),
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
    write_document(path, document)
