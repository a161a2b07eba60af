"""What both benchmarks share: their error, units, the throwaway instance and its agents."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from securedrop_lite.airgap.keys import export_public_key, generate_key
from securedrop_lite.cli import initialize

MIB = 1024 * 1024
RSS_TARGET_MIB = 64.0  # worker RSS growth allowed while a large body streams, in both issues
OUT_DIR = Path(__file__).resolve().parent / "out"

_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


class BenchError(Exception):
    """The benchmark could not measure what it set out to measure."""


def mib(kib: int) -> float:
    return kib / 1024


def csrf_token(page: str) -> str:
    match = _CSRF.search(page)
    if not match:
        raise BenchError("no CSRF token on the page")
    return match.group(1)


def read_through(path: Path, buffer: bytearray) -> None:
    """Read a file once and drop the bytes, so that later readers find it in the page cache."""
    with path.open("rb", buffering=0) as f:
        while f.readinto(buffer):
            pass


@dataclass
class Instance:
    data_dir: Path
    airgap_home: Path
    fingerprint: str


def make_instance(work: Path) -> Instance:
    """Make a fresh key pair in work/airgap, and an instance for its public half in work/data."""
    for name in ("airgap", "data"):
        shutil.rmtree(work / name, ignore_errors=True)
    airgap_home = work / "airgap" / "gnupg"
    fingerprint = generate_key(airgap_home, "Bench Ombuds", "")
    public = work / "airgap" / "public.asc"
    export_public_key(airgap_home, fingerprint, public)
    data_dir = work / "data"
    initialize(data_dir, public, "Bench Ombuds Office")
    return Instance(data_dir.resolve(), airgap_home, fingerprint)


def kill_agents(homes: list[Path]) -> None:
    for home in homes:
        if home.is_dir():
            subprocess.run(
                ["gpgconf", "--homedir", str(home), "--kill", "all"],
                capture_output=True,
                check=False,
            )
