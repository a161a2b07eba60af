"""How much the ombuds benchmark makes and measures, its targets, and its environment."""

from __future__ import annotations

from dataclasses import dataclass

from bench.common import MIB
from bench.server import clean_env

INBOX_TARGET_MS = 100.0
ZIP_RATIO_TARGET = 0.7
ITEMS_PER_SOURCE = 10
REPLY_NUMBERS = (4, 8)  # items that are replies, in sources that have been answered
DEEP_PAGE = 100
WARMUPS = 2
ZIP_FILES = 16
PIPE_BYTES = MIB  # the default pipe-max-size
TAIL_BYTES = 64 * 1024  # kept from the end of each archive: the central directory is in it
# (sources, download MiB, download runs, page runs)
FULL_PLAN = (10_000, 1024, 5, 20)
QUICK_PLAN = (1_000, 256, 3, 10)
# The ombuds passphrase check is Argon2id; logins are not what this measures.
FAST_KDF_ENV = {"SDLITE_KDF_PROFILE": "insecure-test", "SDLITE_TESTING": "1"}


@dataclass(frozen=True)
class Plan:
    sources: int
    download_mib: int
    download_runs: int
    page_runs: int


def instance_env() -> dict[str, str]:
    """Return our environment without any SDLITE_* of the caller's, plus the fast KDF."""
    return {**clean_env(), **FAST_KDF_ENV}
