"""Strip metadata with mat2 before a file leaves the air-gapped machine.

mat2 parses hostile files (poppler for PDF, GdkPixbuf for images, exiftool,
ffmpeg) on the one machine that holds the ombuds' private key and every
plaintext. So the whole mat2 process runs inside a bubblewrap sandbox of our
own: no network, no home folder, nothing writable but one private work folder.
We do not rely on mat2's own sandbox: it covers only exiftool and ffmpeg, and
in mat2 0.13.3 its `--no-sandbox` flag is inverted (`dest="sandbox",
action="store_true"`), so plain `mat2 FILE` runs exiftool unsandboxed.
"""

from __future__ import annotations

import mimetypes
import os
import re
import shutil
import stat
import subprocess
import tempfile
import unicodedata
from pathlib import Path

from securedrop_lite.airgap.inputs import InputUnreadable, open_regular_file
from securedrop_lite.airgap.names import numbered_names, printable, safe_file_name

MAT2 = Path("/usr/bin/mat2")
BWRAP = Path("/usr/bin/bwrap")
# Thorough PDF cleaning renders every page at 200 dpi: a long scan takes minutes.
MAT2_TIMEOUT_SECONDS = 900
# mat2 -s still lists these for a PDF it cleaned itself: cairo's PDF version and
# two unset dates (-1). They say nothing about the author or the machine.
_HARMLESS_LEFTOVERS = re.compile(r"format: PDF-\d\.\d|creation-date: -1|mod-date: -1")
_UNSUPPORTED = re.compile(r"format \((.*)\) is not supported")
# Inside the sandbox only: a fresh tmpfs, never the host's shared /tmp.
_SANDBOX_TMP = "/tmp"  # noqa: S108  # nosec B108 # a path inside the sandbox
# Only the system files mat2 and its libraries need: fonts for poppler, mime.types
# for mat2's format detection by extension.
_ETC_READ_ONLY = ("/etc/ld.so.cache", "/etc/alternatives", "/etc/fonts", "/etc/mime.types")


class ExportUnavailable(Exception):
    """Nothing can be exported on this machine as it is set up."""


class Mat2Missing(ExportUnavailable):
    """mat2 is not installed."""


class SandboxUnavailable(ExportUnavailable):
    """bubblewrap is missing or cannot start a sandbox here."""


class NotExported(Exception):
    """This file was not cleaned, so it was not exported; the message says why."""


def sandbox_command(bwrap: Path, work: Path, command: list[str]) -> list[str]:
    """Wrap command in bubblewrap: system files read-only, work the only writable folder."""
    args = [str(bwrap), "--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(top):  # merged /usr: /lib -> usr/lib
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for path in _ETC_READ_ONLY:
        args += ["--ro-bind-try", path, path]
    # A fresh /tmp: mat2's own temporaries (a rendered PDF, unzipped members) vanish
    # with the sandbox even when mat2 crashes before removing them.
    args += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", _SANDBOX_TMP]
    args += ["--bind", str(work), str(work), "--chdir", str(work)]
    args += ["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    # No PYTHONPATH or virtualenv settings from our process reach the system python.
    args += ["--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", _SANDBOX_TMP]
    args += ["--setenv", "LANG", "C.UTF-8", "--"]
    return args + command


class Mat2:
    """mat2, always run inside our bubblewrap sandbox."""

    def __init__(
        self, executable: Path = MAT2, bwrap: Path = BWRAP, timeout: float = MAT2_TIMEOUT_SECONDS
    ) -> None:
        if not os.access(executable, os.X_OK):
            raise Mat2Missing(f"mat2 is not installed ({executable}): install Debian's mat2")
        # No fallback to running mat2 unsandboxed: a file crafted against poppler or
        # exiftool would then run as the ombuds, next to the private key. Fail closed.
        if not os.access(bwrap, os.X_OK):
            raise SandboxUnavailable(f"{bwrap} is missing: install Debian's bubblewrap")
        self.executable = executable
        self.bwrap = bwrap
        self.timeout = timeout
        self._check_sandbox()

    def _check_sandbox(self) -> None:
        with tempfile.TemporaryDirectory(prefix="sdlite-mat2-check-") as work:
            try:
                done = self._run(Path(work).resolve(), ["--version"])
            except NotExported as exc:
                raise SandboxUnavailable(f"mat2 did not start in the sandbox: {exc}") from None
        if done.returncode != 0 or "mat2" not in done.stdout:
            detail = printable(done.stderr.strip())[:300]
            raise SandboxUnavailable(f"bubblewrap could not start mat2 in a sandbox: {detail}")

    def _run(self, work: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
        command = sandbox_command(self.bwrap, work, [str(self.executable)] + args)
        try:
            return subprocess.run(
                command,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise NotExported(f"mat2 did not finish within {self.timeout:g} s") from None

    def clean(self, work_copy: Path) -> Path:
        """Write a cleaned copy next to work_copy, check it, and return its path."""
        work = work_copy.parent
        # Thorough mode, never --lightweight: for a PDF it renders each page to an
        # image, dropping text layers, forms, scripts, attachments and earlier
        # revisions; the ombuds keeps the decrypted original if the text is needed.
        done = self._run(work, [str(work_copy)])
        produced = [path for path in work.iterdir() if path != work_copy]
        if done.returncode != 0 or len(produced) != 1:
            raise NotExported(_mat2_reason(done, work))
        cleaned = produced[0]
        if not stat.S_ISREG(cleaned.lstat().st_mode):
            raise NotExported("mat2 did not produce a regular file")
        self.verify_clean(cleaned)
        return cleaned

    def verify_clean(self, cleaned: Path) -> None:
        """Ask mat2 to read the result back: it must parse and show no metadata."""
        done = self._run(cleaned.parent, ["--show", str(cleaned)])
        lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
        if done.returncode != 0 or not lines or any(line.startswith("[-]") for line in lines):
            detail = _mat2_detail(done, cleaned.parent)
            raise NotExported(f"mat2 cannot read back the cleaned file: {detail}")
        leftovers = [
            line.split(": ", 1)[0]
            for line in lines
            if not line.startswith("[+")
            and not line.startswith("No metadata found in ")
            and not _HARMLESS_LEFTOVERS.fullmatch(line)
        ]
        if leftovers:
            names = ", ".join(dict.fromkeys(leftovers))  # in order, once each
            raise NotExported(f"metadata remain after cleaning: {printable(names)}")


def _mat2_detail(done: subprocess.CompletedProcess[str], work: Path) -> str:
    """Return mat2's first error line, printable and without our temporary paths."""
    messages = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    errors = [line.removeprefix("[-] ") for line in messages if line.startswith("[-]")]
    detail = (errors or messages or [f"mat2 failed with exit status {done.returncode}"])[0]
    return printable(detail.replace(f"{work}{os.sep}", "")).strip(" :")[:300]


def _mat2_reason(done: subprocess.CompletedProcess[str], work: Path) -> str:
    """Say in one short line why mat2 did not clean the file."""
    detail = _mat2_detail(done, work)
    unsupported = _UNSUPPORTED.search(detail)
    if unsupported:
        return f"mat2 does not support this format ({unsupported.group(1)})"
    return f"mat2 could not clean it: {detail}"


def _copy_in(source: Path, work: Path) -> Path:
    """Copy source's bytes, uninterpreted, into work under its sanitized name."""
    try:
        descriptor = open_regular_file(source)
    except InputUnreadable as exc:
        raise NotExported(str(exc)) from None
    with open(descriptor, "rb") as original:
        work_copy = work / safe_file_name(source.name, "file")
        target = os.open(work_copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with open(target, "wb") as copy:
            shutil.copyfileobj(original, copy)
    return work_copy


def _publish(cleaned: Path, out_dir: Path, name: str) -> Path:
    """Copy cleaned into out_dir under name or a numbered variant; never overwrite."""
    for candidate in numbered_names(name):
        try:
            return _copy_exclusive(cleaned, out_dir / candidate)
        except FileExistsError:
            continue
    raise NotExported(f"too many files named {name} in {out_dir} already")


def _copy_exclusive(cleaned: Path, target: Path) -> Path:
    """Copy cleaned to a target that must not exist yet; remove a partial copy."""
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with open(descriptor, "wb") as out, cleaned.open("rb") as source:
            shutil.copyfileobj(source, out)
            out.flush()
            os.fsync(out.fileno())  # the stick may be pulled as soon as the report says ok
    except BaseException:  # interrupted too: no half-written file left behind
        target.unlink(missing_ok=True)
        raise
    return target


def prepare_out_dir(out_dir: Path) -> None:
    """Create the output folder, private, unless it exists; refuse one we cannot write."""
    try:
        out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ExportUnavailable(f"cannot use {out_dir} as the output folder: {reason}") from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise ExportUnavailable(f"cannot write into the output folder {out_dir}")


def export_file(mat2: Mat2, source: Path, out_dir: Path) -> Path:
    """Clean a copy of source with mat2 and put it in out_dir; return where it went."""
    try:
        # The work folder stays on this machine's own disk, never in out_dir: out_dir
        # is usually the stick that leaves, and the uncleaned copy must never touch it,
        # not even as deleted blocks. It is removed whatever happens, Ctrl-C included.
        with tempfile.TemporaryDirectory(prefix="sdlite-export-") as work_dir:
            # Resolved, so the sandbox binds the real folder, not a path through a symlink.
            work_copy = _copy_in(source, Path(work_dir).resolve())
            check_content_matches_name(work_copy)
            cleaned = mat2.clean(work_copy)
            return _publish(cleaned, out_dir, work_copy.name)
    except OSError as exc:  # a full or failing disk: this file fails, the run goes on
        raise NotExported(f"file system error: {exc.strerror or exc}") from None


def check_content_matches_name(path: Path) -> None:
    """Refuse a file that mat2 would pass through untouched although it is not that type.

    mat2 picks its parser by extension, and copies text and BMP files as they are
    ("harmless"). A JPEG renamed .txt would leave with its metadata. So a file with
    one of those extensions must really be UTF-8 text, or really a BMP.
    """
    kind, _ = mimetypes.guess_type(path.name, strict=False)
    if kind == "image/x-ms-bmp" or kind == "image/bmp":
        with path.open("rb") as f:
            if f.read(2) != b"BM":
                raise NotExported("named as a BMP image but it is not one: refused")
    elif kind == "text/plain":
        data = path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise NotExported("named as text but it is not UTF-8 text: refused") from None
        if any(unicodedata.category(c) == "Cc" and c not in "\t\n\r\f" for c in text):
            raise NotExported("named as text but it holds binary data: refused")
