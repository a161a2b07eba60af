"""Trend tags on the air-gapped machine: coarse categories per case, and tables of them.

Tags live in one local JSON file and are never sent anywhere. Only values from the
fixed lists below are accepted, so free text (which could identify someone) never
enters the file.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

from securedrop_lite.airgap.suppression import Cell, JointTable

CONDUCT = (
    "sexual-harassment", "harassment", "bullying", "discrimination",
    "retaliation", "unsafe-conditions", "pay-and-hours", "other",
)  # fmt: skip
WORKPLACE = (
    "film-production", "tv-production", "studio-office", "post-production",
    "live-event", "other",
)  # fmt: skip
ROLE = ("performer", "crew", "production-assistant", "writer", "other")
CATEGORIES: dict[str, tuple[str, ...]] = {"conduct": CONDUCT, "workplace": WORKPLACE, "role": ROLE}

PERIODS = ("quarter", "month", "year")
FILE_VERSION = 1
LEGEND = (
    "x: suppressed (fewer than k cases, or it would let a suppressed count be worked out "
    "from the totals)"
)

_CASE = re.compile(r"[a-z0-9-]{1,64}")
_STORED_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
_GIVEN_DATE = re.compile(r"([0-9]{4})-([0-9]{2})(?:-([0-9]{2}))?")


class TrendsError(Exception):
    """A tag, the tag file or a report request is not acceptable; nothing was changed."""


def check_case(case: str) -> str:
    """Return case if it is a source folder name as `decrypt` writes it (a short slug)."""
    if not _CASE.fullmatch(case):
        raise TrendsError(f"case must be the source's folder name, like brave-otter: {case!r}")
    return case


def parse_month(text: str) -> str:
    """Return YYYY-MM for a YYYY-MM or YYYY-MM-DD date."""
    match = _GIVEN_DATE.fullmatch(text)
    try:
        if match is None:
            raise ValueError
        year, month, day = (int(part) if part else 1 for part in match.groups())
        date(year, month, day)
    except ValueError:
        raise TrendsError(f"month must be YYYY-MM or YYYY-MM-DD: {text!r}") from None
    # Data minimization: only the month is kept; a day could single out one person's case.
    return f"{year:04d}-{month:02d}"


@dataclass(frozen=True)
class Tags:
    """The coarse categories of one case: one value per dimension, and its month."""

    month: str
    conduct: str
    workplace: str
    role: str

    def __post_init__(self) -> None:
        if not _STORED_MONTH.fullmatch(self.month):
            raise TrendsError(f"month must be YYYY-MM: {self.month!r}")
        for dimension, allowed in CATEGORIES.items():
            value = getattr(self, dimension)
            if value not in allowed:
                raise TrendsError(f"unknown {dimension} {value!r}; allowed: {', '.join(allowed)}")

    def value(self, dimension: str) -> str:
        """Return this case's value in one dimension."""
        value: str = getattr(self, dimension)
        return value


class TagStore:
    """The tag file: read whole, checked whole, replaced whole (atomically, mode 0600)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Tags]:
        """Return the tags per case; refuse a file this tool would not have written."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise TrendsError(f"cannot read {self.path}: {exc.strerror}") from None
        try:
            document = json.loads(raw)
        except (ValueError, RecursionError):
            raise TrendsError(f"{self.path} is not JSON; it was left unchanged") from None
        try:
            return _parse(document)
        except TrendsError as exc:
            raise TrendsError(
                f"{self.path} is not a valid trends file ({exc}); it was left unchanged"
            ) from None

    def tag(self, case: str, tags: Tags) -> bool:
        """Set the tags of case; return True if it replaced earlier tags."""
        cases = self.load()
        replaced = check_case(case) in cases
        cases[case] = tags
        self._save(cases)
        return replaced

    def untag(self, case: str) -> bool:
        """Remove the tags of case; return False if it had none."""
        cases = self.load()
        if cases.pop(check_case(case), None) is None:
            return False
        self._save(cases)
        return True

    def _save(self, cases: Mapping[str, Tags]) -> None:
        document = {
            "version": FILE_VERSION,
            "cases": {case: asdict(cases[case]) for case in sorted(cases)},
        }
        try:
            write_atomically(self.path, (json.dumps(document, indent=2) + "\n").encode())
        except OSError as exc:
            raise TrendsError(f"cannot write {self.path}: {exc.strerror}") from None


def _parse(document: Any) -> dict[str, Tags]:
    """Return the cases of a decoded tag file, or raise TrendsError saying what is wrong."""
    if not isinstance(document, dict) or set(document) != {"version", "cases"}:
        raise TrendsError("expected the keys version and cases")
    version = document["version"]
    if isinstance(version, bool) or version != FILE_VERSION:
        raise TrendsError(f"unsupported version {version!r}")
    if not isinstance(document["cases"], dict):
        raise TrendsError("cases must be an object")
    cases = {}
    for case, fields in document["cases"].items():
        check_case(case)
        if not isinstance(fields, dict) or set(fields) != {"month", *CATEGORIES}:
            raise TrendsError(f"{case}: expected month, {', '.join(CATEGORIES)}")
        if not all(isinstance(field, str) for field in fields.values()):
            raise TrendsError(f"{case}: every field must be a string")
        cases[case] = Tags(**fields)
    return cases


def write_atomically(path: Path, data: bytes) -> None:
    """Replace path with data all at once: a crash leaves the old file or the new one."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkstemp creates the file 0600 whatever the umask.
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # make the rename itself durable
    finally:
        os.close(directory)


def period_of(month: str, period: str) -> str:
    """Return the period label (2026-Q4, 2026-11 or 2026) holding a YYYY-MM month."""
    year, number = month.split("-")
    if period == "quarter":
        return f"{year}-Q{(int(number) - 1) // 3 + 1}"
    if period == "month":
        return month
    if period == "year":
        return year
    raise TrendsError(f"period must be one of {', '.join(PERIODS)}: {period!r}")


def period_range(first_month: str, last_month: str, period: str) -> list[str]:
    """Return every period from the one holding first_month to last_month's, with none skipped."""
    year, month = map(int, first_month.split("-"))
    labels: list[str] = []
    while f"{year:04d}-{month:02d}" <= last_month:
        label = period_of(f"{year:04d}-{month:02d}", period)
        if not labels or labels[-1] != label:
            labels.append(label)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return labels


def build_table(cases: Mapping[str, Tags], period: str) -> JointTable:
    """Count the cases per dimension, category value (all of them) and period."""
    if not cases:
        raise TrendsError("no tagged cases yet: tag some with `trends tag` first")
    months = sorted(tags.month for tags in cases.values())
    periods = period_range(months[0], months[-1], period)
    column = {label: position for position, label in enumerate(periods)}
    counts = {
        dimension: {value: [0] * len(periods) for value in values}
        for dimension, values in CATEGORIES.items()
    }
    for tags in cases.values():
        for dimension in CATEGORIES:
            counts[dimension][tags.value(dimension)][column[period_of(tags.month, period)]] += 1
    return JointTable(periods, counts)


def format_report(table: JointTable, suppressed: frozenset[Cell], k: int) -> str:
    """Return one text table per dimension, suppressed counts shown as x, and the legend."""
    first, last = table.periods[0], table.periods[-1]
    blocks = [f"Cases per category and period, {first} to {last} (k = {k})"]
    blocks += [_format_dimension(table, suppressed, dimension) for dimension in table.counts]
    blocks.append(LEGEND)
    return "\n\n".join(blocks) + "\n"


def _format_dimension(table: JointTable, suppressed: frozenset[Cell], dimension: str) -> str:
    def shown(cell: Cell) -> str:
        return "x" if cell in suppressed else str(table.count(cell))

    lines = [[dimension, *table.periods, "total"]]
    for value in table.counts[dimension]:
        interior = [shown(Cell(dimension, value, period)) for period in table.periods]
        lines.append([value, *interior, shown(Cell(dimension, value))])
    totals = [shown(Cell(period=period)) for period in table.periods]
    lines.append(["total", *totals, shown(Cell())])
    return columns(lines, numbers=True)


def columns(lines: list[list[str]], numbers: bool = False) -> str:
    """Return rows of fields as aligned text; numbers right-aligned after the first column."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return "\n".join(
        "  ".join(
            field.rjust(width) if numbers and position else field.ljust(width)
            for position, (field, width) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in lines
    )
