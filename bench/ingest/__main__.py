"""The command line: `python -m bench.ingest`."""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
from pathlib import Path

import bench.ingest
from bench.common import MIB, OUT_DIR, BenchError, kill_agents, make_instance
from bench.ingest.report import print_report, write_json
from bench.ingest.results import SizeResult
from bench.ingest.run import bench_size

FULL_PLAN = [(256, 5), (1024, 3)]  # (MiB, runs)
QUICK_PLAN = [(64, 3), (128, 3)]
DEFAULT_WORK = Path("/tmp/sdlite-bench")
OUT_JSON = OUT_DIR / "ingest.json"


def remove_work(work: Path) -> None:
    """Remove what this benchmark made in work, then work itself if nothing else is there."""
    for name in ("files", "airgap", "data", "server-tmp"):
        shutil.rmtree(work / name, ignore_errors=True)
    for name in ("server.log", "baseline.gpg"):
        (work / name).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        work.rmdir()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    description = (bench.ingest.__doc__ or "").split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=description)
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
