"""Hypothesis profiles: "ci" by default, bounded; "reliability" when SDLITE_RELIABILITY=full."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings

# Hypothesis caches what it learns (constants, Unicode tables) in .hypothesis under the
# working directory even without an example database: keep the repository clean.
os.environ.setdefault(
    "HYPOTHESIS_STORAGE_DIRECTORY", str(Path(tempfile.gettempdir()) / "sdlite-hypothesis")
)

# Each example is one request against fixtures shared by the whole test (the instance,
# the logged-in sessions): Hypothesis should not build them per example, and requests
# and multipart bodies are slow to generate next to integers.
_COMMON = {
    "deadline": None,
    "database": None,  # no .hypothesis directory in the repository
    "print_blob": True,  # a failure prints the blob that replays it with @reproduce_failure
    "suppress_health_check": [
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
}
settings.register_profile("ci", max_examples=50, **_COMMON)
settings.register_profile("reliability", max_examples=1000, **_COMMON)
settings.load_profile("reliability" if os.environ.get("SDLITE_RELIABILITY") == "full" else "ci")
