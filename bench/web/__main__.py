"""The command line: `python -m bench.web`."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import bench.web
from bench.common import OUT_DIR, BenchError, kill_agents, make_instance
from bench.results_md import command_of
from bench.server import clean_env
from bench.web.landing import LandingResult, measure_landing
from bench.web.login import LoginRun, measure_logins
from bench.web.plan import CLIENT_CPU, FULL_PLAN, QUICK_PLAN, SERVER_CPU, Plan
from bench.web.report import print_landing, print_logins, write_json
from bench.web.servers import start_servers
from securedrop_lite.config import KdfParams, config_path, load_config
from securedrop_lite.services import build_services

OUT_JSON = OUT_DIR / "web.json"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    description = (bench.web.__doc__ or "").split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m bench.web", description=description)
    parser.add_argument("--quick", action="store_true", help="3 login runs, 3 rounds of 3 s")
    parser.add_argument("--runs", type=int, help="login runs and landing rounds (default 7, 5)")
    parser.add_argument("--seconds", type=int, help="seconds of each wrk load (default 10)")
    parser.add_argument("--no-pin", action="store_true", help="let servers and wrk share CPUs")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--work-dir", type=Path, help="where to make it (default: /tmp)")
    parser.add_argument("--json", type=Path, default=OUT_JSON, help="machine-readable output")
    return parser.parse_args(argv)


def choose_plan(args: argparse.Namespace) -> Plan:
    plan = QUICK_PLAN if args.quick else FULL_PLAN
    return Plan(
        args.runs or plan.login_runs, args.runs or plan.landing_rounds,
        args.seconds or plan.wrk_seconds,
    )  # fmt: skip


def can_pin() -> bool:
    return {SERVER_CPU, CLIENT_CPU} <= os.sched_getaffinity(0)


def run(work: Path, plan: Plan, pinned: bool) -> tuple[KdfParams, list[LoginRun], LandingResult]:
    data_dir = make_instance(work).data_dir
    # The instance's own settings, without any SDLITE_* of ours: what the servers load.
    config = load_config(clean_env(), config_path(data_dir))
    if config.kdf != KdfParams():
        raise BenchError(f"the instance does not run the default KDF profile: {config.kdf}")
    services = build_services(config)
    servers = start_servers(data_dir, work)
    try:
        print(f"  servers up: source {servers.source.url}, journalist {servers.journalist.url},"
              f" bare {servers.bare.url}")  # fmt: skip
        logins = measure_logins(config, services, servers.source, servers.journalist,
                                plan.login_runs)  # fmt: skip
        landing = measure_landing(config, services, servers.source, servers.bare,
                                  plan.landing_rounds, plan.wrk_seconds, pinned)  # fmt: skip
    finally:
        servers.stop()
        services.db.dispose()
    return config.kdf, logins, landing


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = choose_plan(args)
    pinned = not args.no_pin and can_pin()
    if args.work_dir:
        args.work_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="sdlite-bench-web-", dir=args.work_dir)).resolve()
    print(f"Web benchmark in {work}: {plan.login_runs} login runs, {plan.landing_rounds} "
          f"landing rounds of {plan.wrk_seconds} s")  # fmt: skip
    try:
        params, logins, landing = run(work, plan, pinned)
    except BenchError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    finally:
        kill_agents([work / "airgap" / "gnupg", work / "data" / "gnupg"])
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print_logins(logins, params)
    print_landing(landing, plan)
    write_json(args.json, plan, logins, landing, params, command_of("bench.web", argv))
    print(f"\nWrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
