"""Gather every benchmark's figures into bench/RESULTS.md: `python -m bench.results_md`.

Each benchmark writes bench/out/<name>.json with a "figures" list, each figure made by
`figure()` below, so that this page can show them all alike: the median of the runs, its
baseline measured in the same run, the ratio, and the target of the issue, if any. A
benchmark whose JSON is missing is listed as not run; nothing is ever filled in.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.common import OUT_DIR

RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"

# The benchmarks in the order of the page, with what each one measures.
BENCHMARKS = {
    "ingest": "Ingest (source interface): a large upload over HTTP, against raw gpg",
    "ombuds": "Ombuds interface: the inbox over 10,000 sources, and a zip download against cat",
    "web": "Logins against their KDF alone, and the landing page against a bare Flask page",
    "tor": "End to end: a 10 MiB submission over the private Tor network",
    "airgap": "The air-gapped tool: decrypt and export against bare gpg and bare mat2",
}

HOW_TO_READ = """\
How to read a table: *median* is the median of the runs (their number in brackets), and
*baseline median* the median of the baseline, measured in the same run, on the same
machine, taking turns with the figure. *ratio* = median / baseline median; the *better*
column says which way is good for it. *target* is the issue's, on the ratio (`<= 1.5x`)
or on the value itself (`<= 100 ms`, or `every run` when the worst run is judged); *met*
is blank where no target was set. The benchmarks never fail on timings: a NO is for a
person to judge, and a busy machine (the benchmarks print a warning then) disturbs
wall-clock figures more than ratios. Each table's command reproduces it.
"""


def _median(values: list[float]) -> float:
    return float(statistics.median(values))


def _target(better: str, ratio_target: float | None, limit: float | None, unit: str,
            limit_on: str) -> str | None:  # fmt: skip
    sign = "<=" if better == "lower" else ">="
    if ratio_target is not None:
        return f"{sign} {ratio_target:g}x"
    if limit is not None:
        return f"{sign} {limit:g} {unit}" + (" every run" if limit_on == "worst" else "")
    return None


def figure(
    name: str,
    unit: str,
    values: list[float],
    *,
    better: str,
    command: str,
    baseline: str | None = None,
    baseline_values: list[float] | None = None,
    ratio_target: float | None = None,
    limit: float | None = None,
    limit_on: str = "median",
) -> dict[str, Any]:
    """Return one figure of a benchmark's JSON: the runs' median against its baseline's.

    better ("lower" or "higher") says which way is good, for the value and for the ratio.
    A target is either ratio_target, on median / baseline median, or limit, on the value
    itself: on its median, or with limit_on="worst" on the worst run.
    """
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', not {better!r}")
    if not values or (baseline_values is not None and not baseline_values):
        raise ValueError(f"{name}: no runs")
    value = _median(values)
    base = _median(baseline_values) if baseline_values else None
    ratio = value / base if base else None
    met: bool | None = None
    if ratio_target is not None and ratio is not None:
        met = ratio <= ratio_target if better == "lower" else ratio >= ratio_target
    elif limit is not None:
        worst = max(values) if better == "lower" else min(values)
        judged = worst if limit_on == "worst" else value
        met = judged <= limit if better == "lower" else judged >= limit
    return {
        "figure": name,
        "unit": unit,
        "value": value,
        "runs": len(values),
        "min": min(values),
        "max": max(values),
        "baseline": baseline,
        "baseline_value": base,
        "ratio": ratio,
        "better": better,
        "target": _target(better, ratio_target, limit, unit, limit_on),
        "met": met,
        "command": command,
    }


def command_of(module: str, argv: list[str] | None = None) -> str:
    """Return the command line that ran a benchmark, as a reader would type it again."""
    args = sys.argv[1:] if argv is None else argv
    return shlex.join([".venv/bin/python", "-m", module, *args])


def number(value: float | None) -> str:
    """Format a figure with as many digits as its size deserves, the same way every time."""
    if value is None:
        return ""
    size = abs(value)
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 100:
        return f"{value:.0f}"
    if size >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def cell(text: str) -> str:
    """Return text safe inside a Markdown table cell ("cat | reader" has a bar)."""
    return text.replace("|", "\\|")


def _met(met: bool | None) -> str:
    return "" if met is None else ("yes" if met else "**NO**")


def table(figures: list[dict[str, Any]]) -> list[str]:
    """Return the Markdown table of a benchmark's figures, then its commands."""
    lines = [
        "| figure | median (runs) | baseline | baseline median | ratio | better | target | met |",
        "|---|---:|---|---:|---:|---|---|---|",
    ]
    for f in figures:
        unit = f["unit"]
        base = "" if f["baseline_value"] is None else f"{number(f['baseline_value'])} {unit}"
        ratio = "" if f["ratio"] is None else f"{f['ratio']:.2f}x"
        lines.append(
            f"| {cell(f['figure'])} | {number(f['value'])} {unit} ({f['runs']}) | "
            f"{cell(f['baseline'] or '')} | {base} | {ratio} | {f['better']} | "
            f"{f['target'] or ''} | {_met(f['met'])} |"
        )
    commands = sorted({f["command"] for f in figures})
    lines.append("")
    lines.extend(f"Command: `{c}`" for c in commands)
    return lines


def section(name: str, document: dict[str, Any] | None) -> list[str]:
    lines = [f"## {name}: {BENCHMARKS[name]}", ""]
    if document is None:
        lines.append(f"Not run: there is no `bench/out/{name}.json`.")
    elif "unreadable" in document:
        lines.append(f"`bench/out/{name}.json` is unreadable ({document['unreadable']}): re-run.")
    elif not document.get("figures"):
        lines.append(f"`bench/out/{name}.json` holds no figures: re-run the benchmark.")
    else:
        m = document.get("machine", {})
        lines.append(
            f"Run on {document.get('date', '?')}, {m.get('cpus', '?')} CPUs, "
            f"kernel {m.get('kernel', '?')}, Python {m.get('python', '?')}."
        )
        lines.append("")
        lines.extend(table(document["figures"]))
    lines.append("")
    return lines


def gpg_version() -> str:
    try:
        done = subprocess.run(["gpg", "--version"], capture_output=True, check=False)
    except FileNotFoundError:
        return "not installed"
    return done.stdout.decode(errors="replace").splitlines()[0] if done.stdout else "?"


def machine() -> dict[str, str]:
    """Return the machine this page is written on."""
    return {
        "cpus": str(os.cpu_count()),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "gpg": gpg_version(),
    }


def render(documents: dict[str, dict[str, Any] | None], here: dict[str, str]) -> str:
    """Return the whole page for the benchmarks' documents (None: not run)."""
    dates = sorted(str(d["date"]) for d in documents.values() if d and d.get("date"))
    lines = [
        "# Benchmark results",
        "",
        "Written by `.venv/bin/python -m bench.results_md` from `bench/out/*.json` "
        "(`make bench` runs the benchmarks, then this). bench/README.md describes each one.",
        "",
        f"- date: {' to '.join(sorted({dates[0], dates[-1]})) if dates else 'no run'}",
        f"- machine: {here['cpus']} CPUs, kernel {here['kernel']}, Python {here['python']}, "
        f"{here['gpg']}",
        "",
        HOW_TO_READ,
    ]
    for name in BENCHMARKS:
        lines.extend(section(name, documents.get(name)))
    return "\n".join(lines).rstrip("\n") + "\n"


def load(out_dir: Path, name: str) -> dict[str, Any] | None:
    path = out_dir / f"{name}.json"
    if not path.is_file():
        return None
    try:
        document: dict[str, Any] = json.loads(path.read_text())
    except ValueError as exc:  # a run cut off while it wrote
        return {"unreadable": str(exc)}
    return document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.results_md", description=__doc__)
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR, help="where the JSON files are")
    parser.add_argument("--output", type=Path, default=RESULTS_MD)
    args = parser.parse_args(argv)
    documents = {name: load(args.out_dir, name) for name in BENCHMARKS}
    args.output.write_text(render(documents, machine()))
    ran = [name for name, d in documents.items() if d is not None]
    print(f"Wrote {args.output} ({', '.join(ran) or 'no benchmark'} run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
