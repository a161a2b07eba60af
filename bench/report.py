"""How both benchmarks print their tables and warnings, and write their JSON."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Share of a CPU used by anything else during a measurement above which the wall-clock
# figures are flagged. Some is the benchmark's own kernel work (write-back, loopback TCP).
OTHER_LOAD_WARNING = 0.25


def yes_no(value: bool) -> str:
    return "yes" if value else "NO"


def print_header(header: str) -> None:
    """Print a table's column names, underlined."""
    print(header)
    print("-" * len(header))


def warn_if_busy(
    others_share: float, indent: str = "  ", disturbed: str = "wall-clock figures are"
) -> None:
    """Warn when other work took more than OTHER_LOAD_WARNING of a CPU during a measurement."""
    if others_share > OTHER_LOAD_WARNING:
        print(f"{indent}WARNING: the machine was busy; {disturbed} disturbed")


def document_head(benchmark: str, **machine: str) -> dict[str, Any]:
    """Return the first keys of a benchmark's JSON: its name, the date and the machine."""
    return {
        "benchmark": benchmark,
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": {
            "cpus": os.cpu_count(),
            "kernel": platform.release(),
            "python": platform.python_version(),
            **machine,
        },
    }


def write_document(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
