"""Process hardening that every sdlite command applies to itself."""

from __future__ import annotations

import ctypes
import ctypes.util

PR_SET_DUMPABLE = 4  # linux/prctl.h


def make_undumpable() -> bool:
    """Refuse core dumps, ptrace and /proc/PID/{mem,root,fd} to processes of the same user.

    The service user runs both apps: without this, a compromised source app could read
    the ombuds app's memory, or its files through /proc/PID/root past the systemd
    InaccessiblePaths= that hide them from the source app. Forked gunicorn workers
    inherit it. Returns False where prctl is not available (not Linux).
    """
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    prctl = getattr(ctypes.CDLL(name, use_errno=True), "prctl", None)
    if prctl is None:
        return False
    return bool(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0)
