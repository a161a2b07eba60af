"""The web benchmark's tables, warnings, figures and JSON."""

from __future__ import annotations

import statistics
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.report import document_head, print_header, warn_if_busy, write_document, yes_no
from bench.results_md import figure
from bench.web.landing import TARGETS, LandingResult, LandingRun
from bench.web.login import LoginRun
from bench.web.plan import (
    CLIENT_CPU,
    LANDING_RATIO_TARGET,
    SERVER_CPU,
    THREADS,
    WORKERS,
    WRK_CONNECTIONS,
    WRK_THREADS,
    Plan,
)
from securedrop_lite.config import KdfParams

# (figure name, LoginRun field, its baseline's field)
LOGINS = [
    ("source login (codename)", "source_login_ms", "codename_kdf_ms"),
    ("source login, wrong codename", "wrong_codename_ms", "codename_kdf_ms"),
    ("ombuds login (passphrase + TOTP)", "ombuds_login_ms", "passphrase_kdf_ms"),
]


def kdf_text(params: KdfParams) -> str:
    return f"t={params.time_cost}, {params.memory_cost_kib // 1024} MiB, p={params.parallelism}"


def login_baselines(params: KdfParams) -> dict[str, str]:
    return {
        "codename_kdf_ms": f"CodenameKdf source_id + key_seed (2 x Argon2id {kdf_text(params)})",
        "passphrase_kdf_ms": f"Argon2id passphrase verify ({kdf_text(params)})",
    }


def of(runs: list[LandingRun], target: str, name: str) -> list[float]:
    return [float(getattr(r, name)) for r in runs if r.target == target]


def cpu(field: str) -> str:
    """Return the name of the CPU field that goes with a wall-clock field of LoginRun."""
    return field.removesuffix("_ms") + "_cpu_ms"


def column(logins: list[LoginRun], field: str) -> list[float]:
    return [float(getattr(r, field)) for r in logins]


def login_figures(logins: list[LoginRun], params: KdfParams, command: str) -> list[dict[str, Any]]:
    baselines = login_baselines(params)
    found = [
        figure(name, "ms", column(logins, field), better="lower", command=command,
               baseline=baselines[base] + ", in-process", baseline_values=column(logins, base))
        for name, field, base in LOGINS
    ]  # fmt: skip
    # CPU: what other load on the machine disturbs least. The worker's, against this process's.
    found += [
        figure(f"{name}, worker CPU", "ms", column(logins, cpu(field)), better="lower",
               command=command, baseline=f"CPU of the {baselines[base]}",
               baseline_values=column(logins, cpu(base)))
        for name, field, base in LOGINS
        if "wrong" not in field
    ]  # fmt: skip
    return found


def figures(
    logins: list[LoginRun], landing: LandingResult, params: KdfParams, command: str
) -> list[dict[str, Any]]:
    found = login_figures(logins, params, command)
    bare = "bare Flask page, same gunicorn settings"
    runs = landing.runs
    for target, ratio_target in (("first", LANDING_RATIO_TARGET), ("returning", None)):
        found.append(
            figure(f"landing page, {TARGETS[target]}", "req/s",
                   of(runs, target, "requests_per_s"), better="higher", command=command,
                   baseline=bare, baseline_values=of(runs, "bare", "requests_per_s"),
                   ratio_target=ratio_target)
        )  # fmt: skip
    found.append(
        figure("landing page, worker CPU per request (first visit)", "us",
               of(runs, "first", "worker_cpu_us_per_request"), better="lower", command=command,
               baseline=bare, baseline_values=of(runs, "bare", "worker_cpu_us_per_request"))
    )  # fmt: skip
    return found


def print_logins(logins: list[LoginRun], params: KdfParams) -> None:
    baselines = login_baselines(params)
    print()
    print(f"Logins over HTTP against their Argon2id work alone, in ms (medians of {len(logins)})")
    print_header(
        f"{'login':<34} {'median':>7} {'min':>7} {'max':>7} {'KDF':>7} {'ratio':>6} "
        f"{'CPU':>7} {'KDF CPU':>7} {'ratio':>6}"
    )
    for name, field, base in LOGINS:
        values = column(logins, field)
        median, kdf = statistics.median(values), statistics.median(column(logins, base))
        used = statistics.median(column(logins, cpu(field)))
        kdf_used = statistics.median(column(logins, cpu(base)))
        print(f"{name:<34} {median:>7.0f} {min(values):>7.0f} {max(values):>7.0f} "
              f"{kdf:>7.0f} {median / kdf:>6.2f} {used:>7.0f} {kdf_used:>7.0f} "
              f"{used / kdf_used:>6.2f}")  # fmt: skip
    print(f"  (KDF: {baselines['codename_kdf_ms']} for the source logins;")
    print(f"   {baselines['passphrase_kdf_ms']} for the ombuds login; both timed in this")
    print("   process just before the login they stand for. A login is the POST /login alone,")
    print("   up to its 302 (or 401), not the page it redirects to. CPU: the worker's during")
    print("   the POST, against this process's during the KDF; other load disturbs it less)")
    busiest = max(r.others_cpu_share for r in logins)
    print(f"  other load during the login runs: up to {busiest:.0%} of a CPU")
    warn_if_busy(busiest)


def print_landing(landing: LandingResult, plan: Plan) -> None:
    runs = landing.runs
    bare = statistics.median(of(runs, "bare", "requests_per_s"))
    pinning = (
        f"servers on CPU {SERVER_CPU}, wrk on CPU {CLIENT_CPU}" if landing.pinned else "unpinned"
    )
    print()
    print(f"Landing page, {WORKERS} gthread worker x {THREADS} threads; wrk -t{WRK_THREADS} "
          f"-c{WRK_CONNECTIONS} -d{plan.wrk_seconds}s; {pinning}; medians of "
          f"{plan.landing_rounds} rounds")  # fmt: skip
    print_header(
        f"{'page':<32} {'req/s':>7} {'min':>7} {'max':>7} {'x bare':>6} {'>=0.5x':>6} "
        f"{'p50 ms':>6} {'us CPU/req':>10} {'others':>6}"
    )
    for target, label in TARGETS.items():
        rps = of(runs, target, "requests_per_s")
        median = statistics.median(rps)
        met = yes_no(median / bare >= LANDING_RATIO_TARGET) if target == "first" else ""
        print(
            f"{label:<32} {median:>7.0f} {min(rps):>7.0f} {max(rps):>7.0f} "
            f"{median / bare:>6.2f} {met:>6} "
            f"{statistics.median(of(runs, target, 'latency_p50_ms')):>6.1f} "
            f"{statistics.median(of(runs, target, 'worker_cpu_us_per_request')):>10.0f} "
            f"{statistics.median(of(runs, target, 'others_cpu_share')):>6.0%}"
        )
    print("  (x bare: req/s / the bare page's; the target is judged on the first visit, which is")
    print("   what wrk sends; us CPU/req: the gunicorn worker's CPU time per request; others: CPU")
    print("   that anything but the worker and wrk used meanwhile, as a share of one CPU)")
    written = landing.session_rows_after - landing.session_rows_before
    print(f"  session rows written during the landing runs: {written} "
          f"({landing.session_rows_before} -> {landing.session_rows_after})")  # fmt: skip
    if written > 0:
        print("  FINDING: GET / writes server-side sessions; every visit costs a database write")
    print(f"  SQL statements per GET /: {len(landing.statements_first_visit)} on a first visit, "
          f"{len(landing.statements_returning)} for a returning visitor")  # fmt: skip
    errors = sum(r.socket_errors for r in runs)
    if errors:
        print(f"  WARNING: wrk counted {errors} socket errors (timeouts or resets)")
    warn_if_busy(max(r.others_cpu_share for r in runs), disturbed="req/s and ratios are")


def write_json(
    path: Path, plan: Plan, logins: list[LoginRun], landing: LandingResult, params: KdfParams,
    command: str,
) -> None:  # fmt: skip
    document = {
        **document_head("web"),
        "settings": {
            **asdict(plan),
            "server": f"sdlite serve source|journalist --workers {WORKERS} --threads {THREADS} "
            "(default KDF profile); bare: bench.web.bare through securedrop_lite.serve.serve",
            "kdf": asdict(params),
            "wrk": f"wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{plan.wrk_seconds}s --latency",
            "pinned": landing.pinned,
            "server_cpu": SERVER_CPU if landing.pinned else None,
            "client_cpu": CLIENT_CPU if landing.pinned else None,
            "landing_ratio_target": LANDING_RATIO_TARGET,
        },
        "figures": figures(logins, landing, params, command),
        "logins": [asdict(r) for r in logins],
        "landing": {
            "session_rows_before": landing.session_rows_before,
            "session_rows_after": landing.session_rows_after,
            "statements_first_visit": landing.statements_first_visit,
            "statements_returning": landing.statements_returning,
            "runs": [asdict(r) for r in landing.runs],
        },
    }
    write_document(path, document)
