"""`sdlite-airgap export FILE... --out DIR`: clean metadata, export only what was cleaned."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from securedrop_lite.airgap.export import (
    ExportUnavailable,
    Mat2,
    NotExported,
    export_file,
    prepare_out_dir,
)
from securedrop_lite.airgap.names import printable


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the export subcommand."""
    parser = sub.add_parser(
        "export", help="strip metadata with mat2 and copy only cleaned files to a folder"
    )
    parser.add_argument("files", nargs="+", type=Path, help="files to clean; never modified")
    parser.add_argument("--out", type=Path, required=True, help="folder for the cleaned copies")
    parser.set_defaults(run=_export)


def _export(args: argparse.Namespace) -> int:
    """Export each file in turn, report one line per file, and return the exit status."""
    try:
        mat2 = Mat2()
        prepare_out_dir(args.out)
    except ExportUnavailable as exc:
        print(f"error: {exc}. Nothing was exported.", file=sys.stderr)
        return 2
    failures: list[tuple[str, str]] = []
    for source in args.files:
        name = printable(str(source))
        try:
            target = export_file(mat2, source, args.out)
        except NotExported as exc:
            failures.append((name, str(exc)))
            print(f"failed  {name}: {exc}", flush=True)
            continue
        print(f"ok      {name} -> {printable(str(target))}", flush=True)
    _print_summary(failures)
    return 1 if failures else 0


def _print_summary(failures: list[tuple[str, str]]) -> None:
    """Repeat the failures at the end, where a long run cannot scroll them away."""
    if failures:
        print()
    for name, reason in failures:
        print(f"NOT cleaned, not exported: {name}: {reason}")
