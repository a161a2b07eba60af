"""File names that are safe to write and to print, whatever a source or a zip supplied."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

# Windows reserves these names with any extension, and ignores spaces before the dot.
_WINDOWS_DEVICES = re.compile(
    r"^(con|prn|aux|nul|conin\$|conout\$|com[0-9\u00b9\u00b2\u00b3]|lpt[0-9\u00b9\u00b2\u00b3])"
    r"\s*(\..*)?$",
    re.IGNORECASE,
)
# Characters Windows forbids in names (":" would also open an NTFS alternate stream).
_WINDOWS_FORBIDDEN = str.maketrans({c: "_" for c in '<>:"|?*'})
_MAX_NAME_BYTES = 200
_UNPRINTABLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
_MAX_SAME_NAME = 10_000


def printable(text: str) -> str:
    """Return text with control characters and line breaks shown as '?' for a terminal."""
    return "".join("?" if unicodedata.category(c) in _UNPRINTABLE else c for c in text)


def safe_file_name(name: str, fallback: str) -> str:
    """Return a plain file name: no directories, no control characters, no device names."""
    name = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    # Control and format characters go (bidi overrides included); line and paragraph
    # separators and odd spaces become plain spaces.
    name = "".join(
        " " if unicodedata.category(c)[0] == "Z" else c
        for c in name
        if unicodedata.category(c)[0] != "C"
    )
    name = name.translate(_WINDOWS_FORBIDDEN).strip().lstrip(".").rstrip(" .")
    if not name or _WINDOWS_DEVICES.match(name):
        name = f"_{name}" if name else fallback
    stem, dot, suffix = name.rpartition(".")
    if not dot or len(suffix) > 16:  # no extension worth keeping
        stem, dot, suffix = name, "", ""
    budget = _MAX_NAME_BYTES - len(f"{dot}{suffix}".encode())
    return stem.encode("utf-8")[:budget].decode("utf-8", "ignore") + dot + suffix


def numbered_names(name: str) -> Iterator[str]:
    """Yield name, then "name (2).ext", "name (3).ext"... for a file that must not overwrite."""
    yield name
    stem, dot, suffix = name.partition(".")
    for number in range(2, _MAX_SAME_NAME):
        yield f"{stem} ({number}){dot}{suffix}"
