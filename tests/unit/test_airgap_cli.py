"""The air-gapped tool as a whole: it never touches the network, whatever command runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import KeyPair

# Runs one sdlite-airgap command as the console script does (network refused), and
# reports which networking modules got imported on the way.
_GUARDED_MAIN = """
import sys
from securedrop_lite.airgap.cli import NetworkRefused, main, refuse_network
refuse_network()
try:
    status = main(sys.argv[1:])
except NetworkRefused as exc:
    print("NETWORK USED:", exc, file=sys.stderr)
    sys.exit(99)
banned = {"socket", "_socket", "ssl", "_ssl", "http.client", "urllib.request", "requests"}
print("NETWORK MODULES:", sorted(banned & set(sys.modules)))
sys.exit(status)
"""


def guarded(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _GUARDED_MAIN, *args],
        input=stdin, capture_output=True, text=True, check=False, env=os.environ.copy(),
    )  # fmt: skip


def assert_offline(done: subprocess.CompletedProcess[str], allowed: str = "[]") -> None:
    assert "NETWORK USED" not in done.stderr, done.stderr
    assert f"NETWORK MODULES: {allowed}" in done.stdout, done.stdout + done.stderr


def test_the_console_script_refuses_any_socket() -> None:
    code = (
        "import socket\n"
        "from securedrop_lite.airgap.cli import NetworkRefused, refuse_network\n"
        "refuse_network()\n"
        "try:\n"
        "    socket.create_connection(('127.0.0.1', 9))\n"
        "except NetworkRefused:\n"
        "    print('refused')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)  # fmt: skip
    assert done.stdout.strip() == "refused"


def test_no_command_of_the_air_gapped_tool_uses_or_imports_networking_code(
    tmp_path: Path, ombuds_key: KeyPair
) -> None:
    keygen = guarded("keygen", "--gnupghome", str(tmp_path / "g"), "--public-out",
                     str(tmp_path / "pub.asc"), "--passphrase-fd", "0",
                     stdin="a passphrase long enough\n")  # fmt: skip
    assert keygen.returncode == 0, keygen.stderr
    assert_offline(keygen)
    subprocess.run(["gpgconf", "--homedir", str(tmp_path / "g"), "--kill", "gpg-agent"],
                   check=False)  # fmt: skip

    sealed = tmp_path / "1-brave-otter-msg.gpg"
    subprocess.run(["gpg", "--homedir", str(ombuds_key.airgap_home), "--batch", "--trust-model",
                    "always", "--recipient", ombuds_key.fingerprint, "--output", str(sealed),
                    "--encrypt"], input=b"words", check=True)  # fmt: skip
    decrypt = guarded("decrypt", str(sealed), "--gnupghome", str(ombuds_key.airgap_home),
                      "--out", str(tmp_path / "out"), "--no-passphrase")  # fmt: skip
    assert decrypt.returncode == 0, decrypt.stdout + decrypt.stderr
    assert_offline(decrypt)

    export = guarded("export", str(tmp_path / "out" / "brave-otter" / "1-brave-otter-msg.txt"),
                     "--out", str(tmp_path / "clean"))  # fmt: skip
    assert export.returncode == 0, export.stdout + export.stderr
    assert_offline(export)

    tags = str(tmp_path / "trends.json")
    tag = guarded("trends", "tag", "brave-otter", "--month", "2026-11", "--conduct", "bullying",
                  "--workplace", "film-production", "--role", "crew", "--file", tags)  # fmt: skip
    assert tag.returncode == 0, tag.stdout + tag.stderr
    assert_offline(tag)
    report = guarded("trends", "report", "--period", "quarter", "--k", "5", "--file", tags,
                     "--png", str(tmp_path / "trends.png"))  # fmt: skip
    assert report.returncode == 0, report.stdout + report.stderr
    # matplotlib's backend_bases imports the socket module for interactive backends;
    # the hook above shows that nothing used it. Nothing else networked is loaded.
    assert_offline(report, allowed="['_socket', 'socket']")
    assert (tmp_path / "trends.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
