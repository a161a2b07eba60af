"""`sdlite-airgap trends`: coarse tags only, a file that never half-changes, reports that hide.

Commands run through the same argparse wiring as sdlite-airgap (trends_command.register),
so these tests do not depend on the other command modules.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from securedrop_lite.airgap import trends_command
from securedrop_lite.airgap.suppression import Cell, JointTable
from securedrop_lite.airgap.trends import CONDUCT, LEGEND, ROLE, WORKPLACE, period_range
from securedrop_lite.airgap.trends_chart import render_chart
from tests.conftest import VENV_BIN

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TAGS = ["--conduct", "bullying", "--workplace", "tv-production", "--role", "crew"]
# Conduct by quarter: harassment in 2026-Q1 is the lone 4 among counts of 5 and more.
SMALL_CELL_CASES = {
    ("2026-01", "harassment"): 4,
    ("2026-05", "harassment"): 6,
    ("2026-02", "bullying"): 6,
    ("2026-06", "bullying"): 5,
}


@pytest.fixture
def tag_file(tmp_path: Path) -> Path:
    return tmp_path / "airgap" / "trends.json"


def _run(*argv: str) -> int:
    """Run `sdlite-airgap trends ...` in-process, as sdlite-airgap's parser would."""
    parser = argparse.ArgumentParser(prog="sdlite-airgap")
    trends_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["trends", *argv])
    status: int = args.run(args)
    return status


def _write_cases(tag_file: Path, counts: dict[tuple[str, str], int]) -> None:
    """Write a tag file by hand, in the documented format."""
    cases = {}
    for (month, conduct), count in counts.items():
        for number in range(count):
            cases[f"{conduct}-{month}-{number}"] = {
                "month": month,
                "conduct": conduct,
                "workplace": "film-production",
                "role": "crew",
            }
    tag_file.parent.mkdir(parents=True, exist_ok=True)
    tag_file.write_text(json.dumps({"version": 1, "cases": cases}))


def _table(out: str, dimension: str) -> dict[str, dict[str, str]]:
    """Parse one printed table into {row: {column: field}}."""
    block = next(b for b in out.split("\n\n") if b.startswith(f"{dimension} "))
    header, *rows = (line.split() for line in block.splitlines())
    return {row[0]: dict(zip(header[1:], row[1:], strict=True)) for row in rows}


def test_tag_list_and_untag_round_trip(tag_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("tag", "brave-otter", "--month", "2026-11", *TAGS, "--file", str(tag_file)) == 0
    assert _run("list", "--file", str(tag_file)) == 0
    listed = capsys.readouterr().out
    assert "brave-otter" in listed
    assert "2026-11  bullying  tv-production  crew" in listed
    assert _run("untag", "brave-otter", "--file", str(tag_file)) == 0
    capsys.readouterr()
    assert _run("list", "--file", str(tag_file)) == 0
    assert capsys.readouterr().out == "No tagged cases.\n"
    assert json.loads(tag_file.read_text()) == {"version": 1, "cases": {}}


def test_tagging_again_replaces_the_earlier_tags(tag_file: Path) -> None:
    assert _run("tag", "brave-otter", "--month", "2026-11", *TAGS, "--file", str(tag_file)) == 0
    retag = ["--conduct", "retaliation", "--workplace", "live-event", "--role", "writer"]
    assert _run("tag", "brave-otter", "--month", "2026-12", *retag, "--file", str(tag_file)) == 0
    cases = json.loads(tag_file.read_text())["cases"]
    assert cases == {
        "brave-otter": {
            "month": "2026-12",
            "conduct": "retaliation",
            "workplace": "live-event",
            "role": "writer",
        }
    }


def test_untagging_an_untagged_case_says_so(
    tag_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run("untag", "brave-otter", "--file", str(tag_file)) == 1
    assert "has no tags" in capsys.readouterr().err
    assert not tag_file.exists()


def test_tag_file_is_private_and_leaves_no_temporary_file(tag_file: Path) -> None:
    assert _run("tag", "brave-otter", "--month", "2026-11", *TAGS, "--file", str(tag_file)) == 0
    assert stat.S_IMODE(tag_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(tag_file.parent.stat().st_mode) == 0o700
    assert os.listdir(tag_file.parent) == ["trends.json"]


def test_a_failed_write_keeps_the_old_tags_and_leaves_no_temporary_file(
    tag_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run("tag", "brave-otter", "--month", "2026-11", *TAGS, "--file", str(tag_file)) == 0
    before = tag_file.read_bytes()

    def disk_full(source: str, target: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    assert _run("tag", "quiet-heron", "--month", "2026-12", *TAGS, "--file", str(tag_file)) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert tag_file.read_bytes() == before
    assert os.listdir(tag_file.parent) == ["trends.json"]


@pytest.mark.parametrize(
    "content",
    [
        b"not json at all",
        b"\xff\xfe\x00",
        b"[" * 100_000,
        b"{}",
        b'{"version": 2, "cases": {}}',
        b'{"version": true, "cases": {}}',
        b'{"version": 1, "cases": []}',
        b'{"version": 1, "cases": {"../etc": {}}}',
        b'{"version": 1, "cases": {"brave-otter": {"month": "2026-11-03", "conduct": "other",'
        b' "workplace": "other", "role": "other"}}}',
        b'{"version": 1, "cases": {"brave-otter": {"month": "2026-11", "conduct": "other",'
        b' "workplace": "other", "role": "other", "notes": "free text about someone"}}}',
        b'{"version": 1, "cases": {"brave-otter": {"month": "2026-11", "conduct": "gossip",'
        b' "workplace": "other", "role": "other"}}}',
        b'{"version": 1, "cases": {"brave-otter": {"month": 202611, "conduct": "other",'
        b' "workplace": "other", "role": "other"}}}',
    ],
)
@pytest.mark.parametrize("command", ["tag", "untag", "list", "report"])
def test_a_malformed_tag_file_is_refused_and_left_unchanged(
    tag_file: Path, content: bytes, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    tag_file.parent.mkdir()
    tag_file.write_bytes(content)
    argv = {
        "tag": ["tag", "quiet-heron", "--month", "2026-11", *TAGS],
        "untag": ["untag", "brave-otter"],
        "list": ["list"],
        "report": ["report", "--no-png"],
    }[command]
    assert _run(*argv, "--file", str(tag_file)) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"error: {tag_file}")
    assert "left unchanged" in captured.err
    assert "Traceback" not in captured.err + captured.out
    assert tag_file.read_bytes() == content


@pytest.mark.parametrize(
    ("dimension", "allowed"), [("conduct", CONDUCT), ("workplace", WORKPLACE), ("role", ROLE)]
)
def test_an_unknown_category_is_refused_listing_the_allowed_values(
    tag_file: Path, dimension: str, allowed: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    tags = {"conduct": "bullying", "workplace": "tv-production", "role": "crew"}
    tags[dimension] = "a director at a named studio"
    argv = [f"--{name}={value}" for name, value in tags.items()]
    assert _run("tag", "brave-otter", "--month", "2026-11", *argv, "--file", str(tag_file)) == 2
    error = capsys.readouterr().err
    assert f"unknown {dimension}" in error
    assert ", ".join(allowed) in error
    assert not tag_file.exists()


def test_only_the_month_is_stored_not_the_day(tag_file: Path) -> None:
    assert _run("tag", "brave-otter", "--month", "2026-11-23", *TAGS, "--file", str(tag_file)) == 0
    stored = tag_file.read_text()
    assert json.loads(stored)["cases"]["brave-otter"]["month"] == "2026-11"
    assert "23" not in stored


@pytest.mark.parametrize("month", ["2026-13", "2026-02-30", "November", "2026-1", "26-11"])
def test_an_invalid_month_is_refused(
    tag_file: Path, month: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run("tag", "brave-otter", "--month", month, *TAGS, "--file", str(tag_file)) == 2
    assert "YYYY-MM" in capsys.readouterr().err
    assert not tag_file.exists()


@pytest.mark.parametrize("case", ["../etc", "Brave-Otter", "brave otter", "a" * 65, ""])
def test_a_case_must_be_a_source_folder_name(
    tag_file: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run("tag", case, "--month", "2026-11", *TAGS, "--file", str(tag_file)) == 2
    assert "folder name" in capsys.readouterr().err
    assert not tag_file.exists()


def test_categories_lists_every_allowed_value(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("categories") == 0
    out = capsys.readouterr().out
    for values in (CONDUCT, WORKPLACE, ROLE):
        assert ", ".join(values) in out


def test_report_hides_a_count_of_4_and_its_complement(
    tag_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_cases(tag_file, SMALL_CELL_CASES)
    png = tmp_path / "report.png"
    argv = ["--period", "quarter", "--k", "5", "--png", str(png), "--file", str(tag_file)]
    assert _run("report", *argv) == 0
    out = capsys.readouterr().out
    conduct = _table(out, "conduct")
    assert conduct["harassment"]["2026-Q1"] == "x"  # the 4
    # Its complements in its row and its column (6 each), so no total gives it away...
    assert conduct["harassment"]["2026-Q2"] == "x"
    assert conduct["bullying"]["2026-Q1"] == "x"
    # ...while the totals people read stay shown.
    assert conduct["harassment"]["total"] == "10"
    assert conduct["total"] == {"2026-Q1": "10", "2026-Q2": "11", "total": "21"}
    assert LEGEND in out
    assert png.read_bytes().startswith(PNG_SIGNATURE)


def test_report_lists_every_category_and_every_period_between_the_first_and_last(
    tag_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_cases(tag_file, {("2026-02", "bullying"): 6, ("2026-11", "bullying"): 7})
    assert _run("report", "--no-png", "--file", str(tag_file)) == 0
    out = capsys.readouterr().out
    for dimension, values in (("conduct", CONDUCT), ("workplace", WORKPLACE), ("role", ROLE)):
        table = _table(out, dimension)
        assert list(table) == [*values, "total"]
        assert list(table["total"]) == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4", "total"]


def test_a_period_total_below_k_is_hidden_in_every_table(
    tag_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_cases(tag_file, {("2026-02", "bullying"): 9, ("2026-05", "harassment"): 3})
    assert _run("report", "--no-png", "--file", str(tag_file)) == 0
    out = capsys.readouterr().out
    for dimension in ("conduct", "workplace", "role"):
        assert _table(out, dimension)["total"]["2026-Q2"] == "x"
    assert "3" not in _table(out, "conduct")["harassment"].values()


def test_report_writes_a_valid_png_without_software_metadata(
    tag_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_cases(tag_file, SMALL_CELL_CASES)
    png = tmp_path / "charts" / "report.png"
    assert _run("report", "--png", str(png), "--file", str(tag_file)) == 0
    assert f"Chart written to {png}" in capsys.readouterr().out
    data = png.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert 10_000 < len(data) < 2_000_000
    assert b"matplotlib" not in data.lower()
    with Image.open(png) as image:
        image.verify()
    with Image.open(png) as image:
        assert image.format == "PNG"
        assert 600 <= image.width <= 2400
        assert 600 <= image.height <= 2000
        assert "Software" not in image.info
    assert stat.S_IMODE(png.stat().st_mode) == 0o600


def test_the_chart_is_the_same_whatever_the_suppressed_counts_are() -> None:
    # Same column totals, suppressed cells swapped: only hidden numbers differ.
    before = JointTable(["q1", "q2"], {"conduct": {"a": [4, 7], "b": [6, 5]}})
    after = JointTable(["q1", "q2"], {"conduct": {"a": [6, 7], "b": [4, 5]}})
    hidden = frozenset({Cell("conduct", "a", "q1"), Cell("conduct", "b", "q1")})
    assert render_chart(before, hidden, 5) == render_chart(after, hidden, 5)
    assert render_chart(before, frozenset(), 5) != render_chart(after, frozenset(), 5)


def test_report_refuses_k_below_2(tag_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_cases(tag_file, SMALL_CELL_CASES)
    assert _run("report", "--k", "1", "--no-png", "--file", str(tag_file)) == 2
    assert "at least 2" in capsys.readouterr().err


def test_report_without_tags_is_refused(tag_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("report", "--no-png", "--file", str(tag_file)) == 2
    assert "no tagged cases" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        ("quarter", ["2025-Q4", "2026-Q1", "2026-Q2"]),
        ("month", ["2025-11", "2025-12", "2026-01", "2026-02", "2026-03", "2026-04"]),
        ("year", ["2025", "2026"]),
    ],
)
def test_periods_run_from_the_first_to_the_last_with_none_skipped(
    period: str, expected: list[str]
) -> None:
    assert period_range("2025-11", "2026-04", period) == expected


def test_trends_loads_no_networking_code() -> None:
    probe = (
        "import sys\n"
        "from securedrop_lite.airgap import trends_command\n"
        "from securedrop_lite.airgap.suppression import JointTable\n"
        "from securedrop_lite.airgap.trends_chart import render_chart\n"
        "print(sorted({'socket', 'ssl', 'http.client', 'urllib.request'} & set(sys.modules)))\n"
        "render_chart(JointTable(['q1'], {'d': {'v': [5]}}), frozenset(), 5)\n"
        # matplotlib's backend_bases imports socket, for a local socketpair that wakes its
        # event loop on Ctrl-C; nothing that could reach a network client comes with it.
        "print(sorted({'ssl', 'http.client', 'urllib.request'} & set(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["[]", "[]"]


def test_the_console_script_tags_and_reports(tmp_path: Path) -> None:
    tag_file = tmp_path / "trends.json"
    _write_cases(tag_file, SMALL_CELL_CASES)

    def airgap(*argv: str) -> subprocess.CompletedProcess[str]:
        command = [str(VENV_BIN / "sdlite-airgap"), "trends", *argv, "--file", str(tag_file)]
        return subprocess.run(command, capture_output=True, text=True, check=False, cwd=tmp_path)

    tagged = airgap("tag", "brave-otter", "--month", "2026-06-14", *TAGS)
    assert tagged.returncode == 0, tagged.stderr
    report = airgap("report", "--period", "quarter", "--k", "5")
    assert report.returncode == 0, report.stderr
    assert _table(report.stdout, "conduct")["harassment"]["2026-Q1"] == "x"
    assert (tmp_path / "trends-report.png").read_bytes().startswith(PNG_SIGNATURE)
    refused = airgap("tag", "brave-otter", "--month", "2026-06", "--conduct", "gossip",
                     "--workplace", "other", "--role", "other")  # fmt: skip
    assert refused.returncode == 2
    assert "Traceback" not in refused.stderr
