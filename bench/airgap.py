"""The air-gapped tool: `decrypt` of a downloaded zip against bare gpg, `export` against bare mat2.

    python -m bench.airgap [--total-mib 512] [--files 8] [--runs 3]

Baselines, measured in the same run on the same files:
- decrypt: `gpg --decrypt` of each item already unzipped, plus an fsync of each
  output (the tool makes each plaintext durable before reporting it ok);
- export: `mat2` run directly on a copy of the same JPEG, with no sandbox and no
  read-back check.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from bench.common import MIB, OUT_DIR, kill_agents, make_instance
from bench.report import document_head, print_header, write_document
from bench.results_md import command_of, figure
from securedrop_lite.crypto import SubmissionKey

VENV_BIN = Path(sys.executable).parent


def _seal_zip(key: SubmissionKey, work: Path, files: int, size: int) -> Path:
    """Write a zip laid out like the ombuds interface's: stored members, one per item."""
    bundle = work / "clever-otter.zip"
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_STORED) as archive:
        for number in range(1, files + 1):
            with tempfile.TemporaryFile(dir=work) as sealed:
                key.encrypt(os.urandom(size), sealed, f"file {number}.bin")
                sealed.seek(0)
                with archive.open(f"clever-otter/{number}-clever-otter-doc.gpg", "w") as member:
                    shutil.copyfileobj(sealed, member, MIB)
    return bundle


def _timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def _decrypt_tool(bundle: Path, home: Path, out: Path) -> float:
    shutil.rmtree(out, ignore_errors=True)
    return _timed([str(VENV_BIN / "sdlite-airgap"), "decrypt", str(bundle), "--gnupghome",
                   str(home), "--out", str(out), "--no-passphrase"])  # fmt: skip


def _decrypt_bare(items: list[Path], home: Path, out: Path) -> float:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    started = time.perf_counter()
    for item in items:
        target = out / item.name.removesuffix(".gpg")
        subprocess.run(["gpg", "--homedir", str(home), "--batch", "--quiet", "--pinentry-mode",
                        "loopback", "--passphrase", "", "--output", str(target), "--decrypt",
                        str(item)], check=True, capture_output=True)  # fmt: skip
        fd = os.open(target, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    return time.perf_counter() - started


def _jpeg(path: Path) -> Path:
    from PIL import Image

    image = Image.new("RGB", (1600, 1200), (120, 80, 40))
    exif = Image.Exif()
    exif[0x010F] = "Bench Camera"
    image.save(path, "JPEG", exif=exif)
    return path


def _export_tool(photo: Path, out: Path) -> float:
    shutil.rmtree(out, ignore_errors=True)
    return _timed([str(VENV_BIN / "sdlite-airgap"), "export", str(photo), "--out", str(out)])


def _export_bare(photo: Path, work: Path) -> float:
    copy = work / "bare" / photo.name
    shutil.rmtree(copy.parent, ignore_errors=True)
    copy.parent.mkdir()
    shutil.copyfile(photo, copy)
    return _timed(["mat2", "--inplace", str(copy)])


def _row(name: str, tool: list[float], bare: list[float], unit: str) -> dict[str, float]:
    tool_median, bare_median = statistics.median(tool), statistics.median(bare)
    ratio = tool_median / bare_median
    print(f"{name:<10} {tool_median:>10.2f} s {bare_median:>10.2f} s {ratio:>9.2f}x   {unit}")
    return {"tool_s": tool_median, "baseline_s": bare_median, "ratio": ratio}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--total-mib", type=int, default=512)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sdlite-bench-airgap-") as tmp:
        work = Path(tmp)
        instance = make_instance(work)
        try:
            key = SubmissionKey(instance.data_dir / "gnupg", instance.fingerprint)
            size = args.total_mib * MIB // args.files
            bundle = _seal_zip(key, work, args.files, size)
            with zipfile.ZipFile(bundle) as archive:
                archive.extractall(work / "unzipped")
            items = sorted((work / "unzipped" / "clever-otter").iterdir())
            home, out = instance.airgap_home, work / "plain"
            tool = [_decrypt_tool(bundle, home, out) for _ in range(args.runs)]
            bare = [_decrypt_bare(items, home, out) for _ in range(args.runs)]
            photo = _jpeg(work / "photo.jpg")
            export_tool = [_export_tool(photo, work / "clean") for _ in range(args.runs)]
            export_bare = [_export_bare(photo, work) for _ in range(args.runs)]
        finally:
            kill_agents([instance.airgap_home, instance.data_dir / "gnupg"])
    what = f"{args.files} items, {args.total_mib} MiB in one zip; one 1600x1200 JPEG"
    print(f"\nsdlite-airgap, medians of {args.runs} runs ({what})\n")
    print_header(f"{'command':<10} {'tool':>12} {'baseline':>12} {'ratio':>10}   baseline")
    document = document_head("airgap")
    document["decrypt"] = _row("decrypt", tool, bare, "gpg --decrypt per item + fsync")
    document["export"] = _row("export", export_tool, export_bare, "mat2 --inplace, unsandboxed")
    command = command_of("bench.airgap")
    decrypted = f"{args.files} items, {args.total_mib} MiB zip"
    document["figures"] = [
        figure(f"sdlite-airgap decrypt ({decrypted})", "s", tool, better="lower",
               command=command, baseline="gpg --decrypt of each item unzipped, + fsync",
               baseline_values=bare),
        figure("sdlite-airgap export (one 1600x1200 JPEG)", "s", export_tool, better="lower",
               command=command, baseline="mat2 --inplace on a copy, unsandboxed",
               baseline_values=export_bare),
    ]  # fmt: skip
    throughput = args.total_mib / document["decrypt"]["tool_s"]
    print(f"\ndecrypt throughput: {throughput:.0f} MiB/s")
    write_document(OUT_DIR / "airgap.json", document)


if __name__ == "__main__":
    main()
