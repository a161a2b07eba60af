"""The admin's log: instance events only, dated to the day, never anything about a source."""

from __future__ import annotations

import logging
import os
from pathlib import Path

ADMIN_LOGGER = "sdlite.admin"


def admin_logger(path: Path) -> logging.Logger:
    """Return the admin logger, writing to path with day-granular dates (P4)."""
    logger = logging.getLogger(f"{ADMIN_LOGGER}.{path}")
    if not logger.handlers:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.close(fd)
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger
