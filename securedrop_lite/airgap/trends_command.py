"""`sdlite-airgap trends`: tag decrypted cases and print anonymized trend reports.

Everything stays on the air-gapped machine: this module talks to no server.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from securedrop_lite.airgap.suppression import suppress
from securedrop_lite.airgap.trends import (
    CATEGORIES,
    PERIODS,
    Tags,
    TagStore,
    TrendsError,
    build_table,
    check_case,
    columns,
    format_report,
    parse_month,
    write_atomically,
)
from securedrop_lite.airgap.trends_chart import render_chart

DEFAULT_FILE = Path("~/.sdlite-airgap/trends.json")
DEFAULT_PNG = Path("trends-report.png")
DEFAULT_K = 5


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `trends` and its subcommands to the sdlite-airgap parser."""
    trends = sub.add_parser("trends", help="tag cases with coarse categories; report trends")
    commands = trends.add_subparsers(dest="trends_command", required=True)

    tag = commands.add_parser("tag", help="set the categories of one case (replaces earlier ones)")
    tag.add_argument("case", help="the source's folder name as written by decrypt")
    tag.add_argument("--month", required=True, help="YYYY-MM or YYYY-MM-DD; only the month is kept")
    for dimension, values in CATEGORIES.items():
        tag.add_argument(f"--{dimension}", required=True, help=f"one of: {', '.join(values)}")
    tag.set_defaults(run=run_tag)

    untag = commands.add_parser("untag", help="remove the categories of one case")
    untag.add_argument("case")
    untag.set_defaults(run=run_untag)

    listing = commands.add_parser("list", help="show the tagged cases")
    listing.set_defaults(run=run_list)
    categories = commands.add_parser("categories", help="show the allowed values")
    categories.set_defaults(run=run_categories)

    report = commands.add_parser("report", help="print the tables and write a PNG chart")
    report.add_argument("--period", choices=PERIODS, default="quarter")
    report.add_argument("--k", type=int, default=DEFAULT_K, help="smallest count shown (>= 2)")
    report.add_argument("--png", type=Path, default=DEFAULT_PNG, help="where to write the chart")
    report.add_argument("--no-png", action="store_true", help="print the tables only")
    report.set_defaults(run=run_report)

    for command in (tag, untag, listing, report):
        command.add_argument("--file", type=Path, default=DEFAULT_FILE, help="the tag file")


def _store(args: argparse.Namespace) -> TagStore:
    path: Path = args.file
    return TagStore(path.expanduser().absolute())


def _refused(error: Exception) -> int:
    print(f"error: {error}", file=sys.stderr)
    return 2


def run_tag(args: argparse.Namespace) -> int:
    """Set the tags of one case."""
    try:
        case = check_case(args.case)
        tags = Tags(parse_month(args.month), args.conduct, args.workplace, args.role)
        replaced = _store(args).tag(case, tags)
    except TrendsError as exc:
        return _refused(exc)
    print(f"{'Replaced' if replaced else 'Added'} the tags of {case}.")
    return 0


def run_untag(args: argparse.Namespace) -> int:
    """Remove the tags of one case."""
    try:
        removed = _store(args).untag(args.case)
    except TrendsError as exc:
        return _refused(exc)
    if not removed:
        print(f"error: {args.case} has no tags", file=sys.stderr)
        return 1
    print(f"Removed the tags of {args.case}.")
    return 0


def run_list(args: argparse.Namespace) -> int:
    """Print the tagged cases, one per line."""
    try:
        cases = _store(args).load()
    except TrendsError as exc:
        return _refused(exc)
    if not cases:
        print("No tagged cases.")
        return 0
    lines = [["case", "month", *CATEGORIES]]
    for case in sorted(cases):
        tags = cases[case]
        lines.append([case, tags.month, *(tags.value(d) for d in CATEGORIES)])
    print(columns(lines))
    return 0


def run_categories(args: argparse.Namespace) -> int:
    """Print the allowed values of each dimension."""
    for dimension, values in CATEGORIES.items():
        print(f"{dimension}: {', '.join(values)}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    """Print one suppressed table per dimension, then write the chart."""
    if args.k < 2:
        return _refused(TrendsError("--k must be at least 2"))
    try:
        table = build_table(_store(args).load(), args.period)
    except TrendsError as exc:
        return _refused(exc)
    suppressed = suppress(table, args.k)
    print(format_report(table, suppressed, args.k), end="")
    if args.no_png:
        return 0
    png_path: Path = args.png.expanduser()
    try:
        write_atomically(png_path, render_chart(table, suppressed, args.k))
    except OSError as exc:
        return _refused(TrendsError(f"cannot write {png_path}: {exc.strerror}"))
    print(f"\nChart written to {png_path}")
    return 0
