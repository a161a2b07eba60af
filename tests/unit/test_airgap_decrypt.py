"""sdlite-airgap decrypt: plaintext only under --out, never over a file, never from a stranger."""

from __future__ import annotations

import os
import stat
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pytest

from securedrop_lite.airgap.cli import main
from securedrop_lite.airgap.decrypt import (
    DecryptFailed,
    decrypt_file,
    decrypt_sealed,
)
from securedrop_lite.airgap.inputs import sealed_from_name
from securedrop_lite.airgap.keys import (
    export_public_key,
    find_secret_key,
    generate_key,
    stop_agent,
)
from securedrop_lite.airgap.names import safe_file_name
from securedrop_lite.config import Config
from securedrop_lite.crypto import CryptoError, SubmissionKey
from tests.conftest import KeyPair


def seal(config: Config, data: bytes, name: str) -> bytes:
    """Encrypt data exactly as the server does, with name inside the ciphertext."""
    key = SubmissionKey(config.gpg_home, config.submission_key_fingerprint)
    with tempfile.TemporaryFile() as sink:
        key.encrypt(data, sink, name)
        sink.seek(0)
        return sink.read()


def run_decrypt(input_path: Path, home: Path, out: Path, *extra: str) -> int:
    return main(["decrypt", str(input_path), "--gnupghome", str(home), "--out", str(out),
                 "--no-passphrase", *extra])  # fmt: skip


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def test_a_folder_decrypts_into_one_folder_per_source_with_original_names(
    config: Config, ombuds_key: KeyPair, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    download = tmp_path / "download"
    download.mkdir()
    (download / "1-brave-otter-msg.gpg").write_bytes(seal(config, b"first words", "message.txt"))
    (download / "2-brave-otter-doc.gpg").write_bytes(seal(config, b"%PDF-1.4", "call sheet.pdf"))
    (download / "1-calm-heron-msg.gpg").write_bytes(seal(config, b"other source", "message.txt"))
    (download / "3-brave-otter-reply.gpg").write_bytes(seal(config, b"we heard you", "reply.txt"))
    out = tmp_path / "out"
    assert run_decrypt(download, ombuds_key.airgap_home, out) == 0
    assert (out / "brave-otter" / "1-brave-otter-msg.txt").read_bytes() == b"first words"
    assert (out / "brave-otter" / "call sheet.pdf").read_bytes() == b"%PDF-1.4"
    assert (out / "brave-otter" / "3-brave-otter-reply.txt").read_bytes() == b"we heard you"
    assert (out / "calm-heron" / "1-calm-heron-msg.txt").read_bytes() == b"other source"
    report = capsys.readouterr().out
    assert report.count("ok      ") == 4
    assert "4 decrypted, 0 failed" in report


def test_plaintext_files_are_private_and_never_executable(
    config: Config, ombuds_key: KeyPair, tmp_path: Path
) -> None:
    sealed = tmp_path / "1-brave-otter-doc.gpg"
    sealed.write_bytes(seal(config, b"#!/bin/sh\necho hi\n", "run-me.sh"))
    assert run_decrypt(sealed, ombuds_key.airgap_home, tmp_path / "out") == 0
    written = tmp_path / "out" / "brave-otter" / "run-me.sh"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert stat.S_IMODE(written.parent.stat().st_mode) == 0o700


def test_decrypt_never_overwrites_an_existing_file(
    config: Config, ombuds_key: KeyPair, tmp_path: Path
) -> None:
    sealed = tmp_path / "2-brave-otter-doc.gpg"
    sealed.write_bytes(seal(config, b"new", "notes.txt"))
    existing = tmp_path / "out" / "brave-otter" / "notes.txt"
    existing.parent.mkdir(parents=True)
    existing.write_bytes(b"the ombuds' own notes")
    assert run_decrypt(sealed, ombuds_key.airgap_home, tmp_path / "out") == 0
    assert run_decrypt(sealed, ombuds_key.airgap_home, tmp_path / "out") == 0
    assert existing.read_bytes() == b"the ombuds' own notes"
    assert (existing.parent / "notes (2).txt").read_bytes() == b"new"
    assert (existing.parent / "notes (3).txt").read_bytes() == b"new"


def _traversal_zip(config: Config, path: Path) -> None:
    payload = seal(config, b"should never land outside", "escape.txt")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("../1-brave-otter-doc.gpg", payload)
        archive.writestr("brave-otter/../../2-brave-otter-doc.gpg", payload)
        archive.writestr("/tmp/3-brave-otter-doc.gpg", payload)
        archive.writestr("C:/4-brave-otter-doc.gpg", payload)
        link = zipfile.ZipInfo("brave-otter/5-brave-otter-doc.gpg")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "../../../../etc/passwd")
        # The one honest entry carries a hostile name *inside* the ciphertext.
        archive.writestr("brave-otter/6-brave-otter-doc.gpg",
                         seal(config, b"inside", "../../../outside.txt"))  # fmt: skip


def test_zip_entries_with_traversal_absolute_paths_or_symlinks_write_nothing_outside_out(
    config: Config, ombuds_key: KeyPair, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tmp_path / "work" / "download.zip"
    bundle.parent.mkdir()
    _traversal_zip(config, bundle)
    out = tmp_path / "work" / "out"
    before = files_under(tmp_path)
    assert run_decrypt(bundle, ombuds_key.airgap_home, out) == 1
    written = files_under(tmp_path) - before
    assert written == {out / "brave-otter" / "outside.txt"}
    assert (out / "brave-otter" / "outside.txt").read_bytes() == b"inside"
    assert not Path("/tmp/3-brave-otter-doc.gpg").exists()
    report = capsys.readouterr().out
    assert report.count("an absolute path or '..' inside the zip: refused") == 4
    assert "a symbolic link inside the zip: not followed" in report
    assert "1 decrypted, 5 failed" in report


def test_a_symlink_planted_under_out_is_not_followed(
    config: Config, ombuds_key: KeyPair, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "brave-otter").symlink_to(elsewhere)
    sealed = tmp_path / "1-brave-otter-doc.gpg"
    sealed.write_bytes(seal(config, b"data", "file.txt"))
    assert run_decrypt(sealed, ombuds_key.airgap_home, out) == 1
    assert list(elsewhere.iterdir()) == []


def test_a_symlink_in_an_input_folder_is_refused_not_followed(
    config: Config, ombuds_key: KeyPair, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "1-brave-otter-msg.gpg"
    outside.write_bytes(seal(config, b"outside the folder", "message.txt"))
    download = tmp_path / "download"
    download.mkdir()
    (download / "1-brave-otter-msg.gpg").symlink_to(outside)
    assert run_decrypt(download, ombuds_key.airgap_home, tmp_path / "out") == 1
    assert "a symbolic link: not followed" in capsys.readouterr().out
    assert not (tmp_path / "out" / "brave-otter").exists()


def test_a_file_for_another_key_is_reported_and_the_rest_still_decrypts(
    config: Config, ombuds_key: KeyPair, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stranger_home = tmp_path / "stranger"
    stranger = generate_key(stranger_home, "Stranger", "")
    export_public_key(stranger_home, stranger, tmp_path / "stranger.asc")
    stop_agent(stranger_home)
    download = tmp_path / "download"
    download.mkdir()
    for_stranger = SubmissionKey(stranger_home, stranger)
    with (download / "1-brave-otter-msg.gpg").open("wb") as sink:
        for_stranger.encrypt(b"not for the ombuds", sink, "message.txt")
    (download / "2-brave-otter-msg.gpg").write_bytes(seal(config, b"for the ombuds", "m.txt"))
    assert run_decrypt(download, ombuds_key.airgap_home, tmp_path / "out") == 1
    report = capsys.readouterr().out
    assert "failed  1-brave-otter-msg.gpg: encrypted to another key" in report
    assert "ok      2-brave-otter-msg.gpg" in report
    assert (tmp_path / "out" / "brave-otter" / "2-brave-otter-msg.txt").exists()
    assert not (tmp_path / "out" / "brave-otter" / "1-brave-otter-msg.txt").exists()


def test_a_password_encrypted_file_is_refused_even_when_the_password_matches(
    ombuds_key: KeyPair, tmp_path: Path
) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("symmetric")
    sealed = tmp_path / "1-brave-otter-msg.gpg"
    home = tmp_path / "g"
    home.mkdir(mode=0o700)
    subprocess.run(["gpg", "--homedir", str(home), "--batch", "--passphrase", "same-as-key",
                    "--pinentry-mode", "loopback", "--symmetric", "-o", str(sealed), str(plain)],
                   check=True, capture_output=True)  # fmt: skip
    stop_agent(home)
    with pytest.raises(DecryptFailed, match="encrypted with a password"):
        decrypt_file(ombuds_key.airgap_home, sealed, tmp_path / "out", "same-as-key")
    assert list((tmp_path / "out" / "brave-otter").iterdir()) == []


def test_altered_ciphertext_leaves_no_plaintext_behind(
    config: Config, ombuds_key: KeyPair, tmp_path: Path
) -> None:
    data = bytearray(seal(config, os.urandom(200_000), "photo.jpg"))
    data[len(data) // 2] ^= 0x01
    sealed = tmp_path / "1-brave-otter-doc.gpg"
    sealed.write_bytes(bytes(data))
    with pytest.raises(DecryptFailed):
        decrypt_file(ombuds_key.airgap_home, sealed, tmp_path / "out")
    assert list((tmp_path / "out" / "brave-otter").iterdir()) == []


def test_an_item_larger_than_max_size_is_refused_without_a_partial_file(
    config: Config, ombuds_key: KeyPair, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sealed = tmp_path / "1-brave-otter-doc.gpg"
    sealed.write_bytes(seal(config, os.urandom(300_000), "big.bin"))
    assert run_decrypt(sealed, ombuds_key.airgap_home, tmp_path / "out", "--max-size",
                       "100000") == 1  # fmt: skip
    assert "larger than --max-size" in capsys.readouterr().out
    assert list((tmp_path / "out" / "brave-otter").iterdir()) == []


def test_garbage_and_names_with_terminal_escapes_are_reported_safely(
    ombuds_key: KeyPair, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    download = tmp_path / "download"
    download.mkdir()
    (download / "\x1b[2Jhostile.gpg").write_bytes(b"not OpenPGP at all")
    assert run_decrypt(download, ombuds_key.airgap_home, tmp_path / "out") == 1
    report = capsys.readouterr().out
    assert "\x1b" not in report
    assert "failed  ?[2Jhostile.gpg: not an OpenPGP message" in report


def test_a_damaged_zip_is_a_clear_error(ombuds_key: KeyPair, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    broken = tmp_path / "download.zip"
    broken.write_bytes(b"PK\x03\x04 this is not really a zip")
    assert run_decrypt(broken, ombuds_key.airgap_home, tmp_path / "out") == 2
    assert "is not a readable zip" in capsys.readouterr().err


def test_the_passphrase_protects_the_key_and_a_wrong_one_stops_the_run(
    config: Config, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "airgap"
    fingerprint = generate_key(home, "Protected Ombuds", "correct horse battery staple")
    export_public_key(home, fingerprint, tmp_path / "pub.asc")
    stop_agent(home)
    key = SubmissionKey(home, fingerprint)
    sealed = tmp_path / "1-brave-otter-msg.gpg"
    with sealed.open("wb") as sink:
        key.encrypt(b"protected words", sink, "message.txt")
    read_end, write_end = os.pipe()
    os.write(write_end, b"wrong passphrase entirely\n")
    os.close(write_end)
    status = main(["decrypt", str(sealed), "--gnupghome", str(home), "--out",
                   str(tmp_path / "out"), "--passphrase-fd", str(read_end)])  # fmt: skip
    os.close(read_end)
    assert status == 2
    assert "passphrase does not unlock" in capsys.readouterr().err
    assert not (tmp_path / "out" / "brave-otter" / "1-brave-otter-msg.txt").exists()
    stop_agent(home)
    good = decrypt_sealed(find_secret_key(home), sealed_from_name(
        sealed.name, sealed.name, lambda: sealed.open("rb")), tmp_path / "out",
        "correct horse battery staple")  # fmt: skip
    assert good.path.read_bytes() == b"protected words"
    stop_agent(home)


def test_a_home_with_two_secret_keys_needs_the_key_named(tmp_path: Path) -> None:
    home = tmp_path / "two"
    first = generate_key(home, "First", "")
    second = generate_key(home, "Second", "")
    stop_agent(home)
    with pytest.raises(CryptoError, match="2 secret keys"):
        find_secret_key(home)
    assert find_secret_key(home, second).fingerprint == second
    assert find_secret_key(home, first.lower()).fingerprint == first
    stop_agent(home)


@pytest.mark.parametrize(
    ("hostile", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("/etc/shadow", "shadow"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("CON", "_CON"),
        ("lpt1.txt", "_lpt1.txt"),
        (".bashrc", "bashrc"),
        ("..", "fallback"),
        ("", "fallback"),
        ("name\x00with\x1bcontrols\n.pdf", "namewithcontrols.pdf"),
        ("trailing dots. . ", "trailing dots"),
        ("e\u0301te\u0301.txt", "\u00e9t\u00e9.txt"),
        ("\u202egnp.exe", "gnp.exe"),
        ("NUL .pdf", "_NUL .pdf"),
        ("conout$.log", "_conout$.log"),
        ("COM\u00b9.txt", "_COM\u00b9.txt"),
        ("file.txt:stream", "file.txt_stream"),
        ('a<b>c"d|e?f*.doc', "a_b_c_d_e_f_.doc"),
        ("a\u2028b\u00a0.pdf", "a b .pdf"),
        ("...", "fallback"),
    ],
)
def test_safe_file_name_strips_paths_devices_and_controls(hostile: str, expected: str) -> None:
    assert safe_file_name(hostile, "fallback") == expected


def test_safe_file_name_keeps_names_short_and_whole_characters() -> None:
    name = safe_file_name("é" * 300 + ".pdf", "fallback")
    assert len(name.encode("utf-8")) <= 200
    name.encode("utf-8").decode("utf-8")  # no split character
    assert name == "é" * 98 + ".pdf"


def test_a_damaged_item_is_reported_and_the_run_carries_on(
    config: Config, ombuds_key: KeyPair, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    download = tmp_path / "download"
    download.mkdir()
    damaged = bytearray(seal(config, b"first", "message.txt"))
    damaged[20] ^= 0xFF  # inside the session key packet addressed to the submission key
    (download / "1-brave-otter-msg.gpg").write_bytes(bytes(damaged))
    twice = seal(config, b"one", "a.txt") + seal(config, b"two", "b.txt")
    (download / "2-brave-otter-doc.gpg").write_bytes(twice)
    (download / "3-brave-otter-msg.gpg").write_bytes(seal(config, b"intact", "message.txt"))
    assert run_decrypt(download, ombuds_key.airgap_home, tmp_path / "out") == 1
    report = capsys.readouterr().out
    assert "failed  1-brave-otter-msg.gpg" in report
    assert "failed  2-brave-otter-doc.gpg" in report
    assert "ok      3-brave-otter-msg.gpg" in report
    assert (tmp_path / "out" / "brave-otter" / "3-brave-otter-msg.txt").read_bytes() == b"intact"
    assert sorted(p.name for p in (tmp_path / "out" / "brave-otter").iterdir()) == [
        "3-brave-otter-msg.txt"
    ]


def test_an_unnamed_item_outside_the_servers_pattern_still_gets_a_safe_name(
    ombuds_key: KeyPair, tmp_path: Path
) -> None:
    download = tmp_path / "download"
    download.mkdir()
    for name in ("CON.gpg", "evil\u202egpj.exe\x1b[31m.gpg", "...gpg"):
        subprocess.run(["gpg", "--homedir", str(ombuds_key.airgap_home), "--batch",
                        "--trust-model", "always", "--recipient", ombuds_key.fingerprint,
                        "--set-filename", "", "--output", str(download / name), "--encrypt"],
                       input=b"x", check=True, capture_output=True)  # fmt: skip
    assert run_decrypt(download, ombuds_key.airgap_home, tmp_path / "out") == 0
    names = sorted(p.name for p in (tmp_path / "out" / "unsorted").iterdir())
    assert names == ["_CON", "evilgpj.exe[31m", "item"]


def test_a_signed_and_encrypted_item_decrypts_without_the_signers_key(
    ombuds_key: KeyPair, tmp_path: Path
) -> None:
    signer_home = tmp_path / "signer"
    generate_key(signer_home, "Signer", "")
    public = tmp_path / "ombuds.asc"
    export_public_key(ombuds_key.airgap_home, ombuds_key.fingerprint, public)
    subprocess.run(["gpg", "--homedir", str(signer_home), "--batch", "--import", str(public)],
                   check=True, capture_output=True)  # fmt: skip
    sealed = tmp_path / "1-brave-otter-doc.gpg"
    subprocess.run(["gpg", "--homedir", str(signer_home), "--batch", "--trust-model", "always",
                    "--pinentry-mode", "loopback", "--passphrase", "", "--recipient",
                    ombuds_key.fingerprint, "--set-filename", "signed.txt", "--sign",
                    "--encrypt", "--output", str(sealed)], input=b"signed words",
                   check=True, capture_output=True)  # fmt: skip
    stop_agent(signer_home)
    result = decrypt_file(ombuds_key.airgap_home, sealed, tmp_path / "out")
    assert result.path.name == "signed.txt"
    assert result.path.read_bytes() == b"signed words"
