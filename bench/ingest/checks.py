"""What the server stored and left behind: the ciphertext, TMPDIR and the staging directory."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

from bench.common import MIB, BenchError, Instance
from bench.ingest.results import RunResult
from bench.ingest.upload import CHUNK


def stored_docs(store: Path) -> set[Path]:
    return {p for p in store.glob("*/*-doc.gpg") if not p.parent.name.startswith(".")}


def tree_listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb", buffering=0) as f:
        buffer = bytearray(CHUNK)
        while n := f.readinto(buffer):
            digest.update(memoryview(buffer)[:n])
    return digest.hexdigest()


def decrypt_digest(airgap_home: Path, encrypted: Path) -> str:
    """Decrypt with the air-gap key, hashing the plaintext as it streams out of gpg."""
    command = ["gpg", "--homedir", str(airgap_home), "--batch", "--quiet", "--pinentry-mode",
               "loopback", "--passphrase", "", "--decrypt", str(encrypted)]  # fmt: skip
    digest = hashlib.sha256()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    while chunk := process.stdout.read(CHUNK):
        digest.update(chunk)
    _, stderr = process.communicate()
    if process.returncode != 0:
        raise BenchError(f"decryption failed: {stderr.decode(errors='replace')}")
    return digest.hexdigest()


def verify(instance: Instance, plain: Path, stored: Path, run: RunResult) -> dict[str, Any]:
    """Check the stored ciphertext once: present, uncompressed, decryptable, no plaintext."""
    plain_size = plain.stat().st_size
    overhead = run.ciphertext_bytes - plain_size
    # Random data with --compress-algo none: ciphertext = plaintext + packet headers, the
    # session key and the MDC. Streamed from a pipe, gpg writes partial-length packets, a
    # length byte per chunk (about 0.03 %). Compression would not shrink random data,
    # so "not compressed" is also checked in gpg's packet list.
    packets = subprocess.run(
        ["gpg", "--homedir", str(instance.airgap_home), "--batch", "--pinentry-mode",
         "loopback", "--passphrase", "", "--list-packets", str(stored)],
        capture_output=True, check=False,
    )  # fmt: skip
    listing = packets.stdout.decode(errors="replace")
    with plain.open("rb") as f:
        probe = f.read(64)
    with stored.open("rb") as f:
        head = f.read(4 * MIB)
    result = {
        "stored_file": str(stored.relative_to(instance.data_dir)),
        "plaintext_bytes": plain_size,
        "ciphertext_bytes": run.ciphertext_bytes,
        "overhead_bytes": overhead,
        "baseline_ciphertext_bytes": run.baseline_ciphertext_bytes,
        "size_ok": 0 < overhead <= plain_size // 1000 + 4096,
        "compressed_packet_present": ":compressed packet:" in listing,
        "plaintext_probe_in_ciphertext": probe in head,
        "server_tmpdir_entries": run.server_tmpdir_entries,
        "server_tmpdir_empty": not run.server_tmpdir_entries,
        "staging_entries": run.staging_entries,
        "staging_empty": not run.staging_entries,
    }
    result["decrypts_to_plaintext"] = decrypt_digest(instance.airgap_home, stored) == sha256_file(
        plain
    )
    result["ok"] = (
        result["size_ok"]
        and not result["compressed_packet_present"]
        and not result["plaintext_probe_in_ciphertext"]
        and result["server_tmpdir_empty"]
        and result["staging_empty"]
        and result["decrypts_to_plaintext"]
    )
    return result
