"""sdlite commands make themselves undumpable: no ptrace, no /proc/PID/root by the same user."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_make_undumpable_clears_the_dumpable_flag_of_its_process() -> None:
    # In a child, so the test process itself stays dumpable.
    program = (
        "import ctypes, ctypes.util\n"
        "from securedrop_lite.process import make_undumpable\n"
        "libc = ctypes.CDLL(ctypes.util.find_library('c'))\n"
        "before = libc.prctl(3, 0, 0, 0, 0)\n"  # PR_GET_DUMPABLE
        "assert make_undumpable()\n"
        "print(before, libc.prctl(3, 0, 0, 0, 0))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["1", "0"]


def test_every_sdlite_command_runs_undumpable(data_dir: Path) -> None:
    program = (
        "import ctypes, ctypes.util, sys\n"
        "from securedrop_lite.cli import main\n"
        "main(['user', 'list', '--data-dir', sys.argv[1]])\n"
        "libc = ctypes.CDLL(ctypes.util.find_library('c'))\n"
        "print('dumpable', libc.prctl(3, 0, 0, 0, 0))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program, str(data_dir)], capture_output=True, text=True, check=True
    )
    assert result.stdout.split()[-2:] == ["dumpable", "0"]
