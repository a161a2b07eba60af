"""The command line: `python -m bench.ombuds`."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import bench.ombuds
from bench.common import MIB, OUT_DIR, BenchError, kill_agents, make_instance
from bench.ombuds.data import Dataset, populate, warm, write_download_files
from bench.ombuds.download import bench_download
from bench.ombuds.pages import Page, measure_pages
from bench.ombuds.plan import FULL_PLAN, QUICK_PLAN, Plan, instance_env
from bench.ombuds.report import print_download, print_pages, write_json
from bench.ombuds.results import DownloadResult
from securedrop_lite.config import config_path, load_config
from securedrop_lite.services import build_services

OUT_JSON = OUT_DIR / "ombuds.json"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    description = (bench.ombuds.__doc__ or "").split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m bench.ombuds", description=description)
    parser.add_argument("--quick", action="store_true", help="1,000 sources, 256 MiB, 3 runs")
    parser.add_argument("--runs", type=int, help="download runs (default 5)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--work-dir", type=Path, help="where to make it (default: /tmp)")
    parser.add_argument("--json", type=Path, default=OUT_JSON, help="machine-readable output")
    return parser.parse_args(argv)


def run(work: Path, plan: Plan) -> tuple[Dataset, list[Page], float, DownloadResult]:
    started = time.perf_counter()
    data_dir = make_instance(work).data_dir
    config = load_config(instance_env(), config_path(data_dir))
    services = build_services(config)
    try:
        dataset = populate(services, plan)
        print(f"  {dataset.sources:,} sources, {dataset.submissions:,} submissions and "
              f"{dataset.replies:,} replies in {time.perf_counter() - started:.1f} s")  # fmt: skip
        write_download_files(config.store_dir, dataset, plan.download_mib)
        warm(dataset.files)
        print(f"  {plan.download_mib} MiB of download files written and read back")
        pages, others_share = measure_pages(config, services, dataset, plan.page_runs)
        print(f"  pages measured ({plan.page_runs} requests each)")
        credentials = services.users.add("bench-download")
    finally:
        services.db.dispose()
    download = bench_download(data_dir, work, dataset, plan.download_runs, credentials)
    return dataset, pages, others_share, download


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = Plan(*(QUICK_PLAN if args.quick else FULL_PLAN))
    if args.runs:
        plan = Plan(plan.sources, plan.download_mib, args.runs, plan.page_runs)
    if args.work_dir:
        args.work_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="sdlite-bench-ombuds-", dir=args.work_dir)).resolve()
    free = shutil.disk_usage(work).free
    if free < (plan.download_mib + 512) * MIB:
        print(f"error: {work} needs about {plan.download_mib + 512} MiB free, has {free // MIB}")
        work.rmdir()
        return 2
    print(f"Ombuds benchmark in {work}: {plan.sources:,} sources, {plan.download_mib} MiB zip")
    try:
        dataset, pages, others_share, download = run(work, plan)
    except BenchError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    finally:
        kill_agents([work / "airgap" / "gnupg", work / "data" / "gnupg"])
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print_pages(pages, dataset, others_share)
    print_download(download)
    write_json(args.json, plan, dataset, pages, others_share, download)
    print(f"\nWrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
