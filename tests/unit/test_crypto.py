"""OpenPGP to the ombuds key with real GnuPG, and X25519 boxes to sources."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from securedrop_lite.airgap.decrypt import decrypt_file
from securedrop_lite.airgap.keys import generate_key, stop_agent
from securedrop_lite.crypto import (
    DecryptionError,
    KeyUnusableError,
    SourceKeyPair,
    SubmissionKey,
    import_public_key,
    seal_to_source,
)
from securedrop_lite.crypto.gpg import gpg_base_command, literal_file_name
from tests.conftest import KeyPair

NOW = datetime.now(UTC)


def _gpg(home: Path, *args: str) -> str:
    command = gpg_base_command(home, agent=True) + [
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        "",
        *args,
    ]
    return subprocess.run(command, capture_output=True, check=True).stdout.decode()


def _make_key(home: Path, uid: str, *specs: tuple[str, str, str]) -> bytes:
    """Make a key from (algorithm, usage, expiry) specs; the first is the primary."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    algorithm, usage, expiry = specs[0]
    _gpg(home, "--quick-gen-key", uid, algorithm, usage, expiry)
    fingerprint = next(
        line.split(":")[9]
        for line in _gpg(home, "--with-colons", "--list-keys", uid).splitlines()
        if line.startswith("fpr")
    )
    for algorithm, usage, expiry in specs[1:]:
        _gpg(home, "--quick-add-key", fingerprint, algorithm, usage, expiry)
    armored = _gpg(home, "--armor", "--export", fingerprint).encode()
    stop_agent(home)
    return armored


@pytest.fixture
def server_key(tmp_path: Path, ombuds_key: KeyPair) -> SubmissionKey:
    home = tmp_path / "server-gnupg"
    fingerprint = import_public_key(home, ombuds_key.public_key.read_bytes())
    return SubmissionKey(home, fingerprint)


def _encrypt(key: SubmissionKey, data: bytes, name: str, out: Path) -> bytes:
    with out.open("wb") as f:
        key.encrypt(data, f, name)
    return out.read_bytes()


def test_ciphertext_does_not_contain_plaintext(server_key: SubmissionKey, tmp_path: Path) -> None:
    plaintext = b"the first assistant director shouted at me again " * 200
    ciphertext = _encrypt(server_key, plaintext, "statement.txt", tmp_path / "1-a-b-doc.gpg")
    assert plaintext[:48] not in ciphertext
    assert b"statement.txt" not in ciphertext
    assert not ciphertext.startswith(b"-----BEGIN")  # binary, not armored


def test_ciphertext_is_not_compressed(server_key: SubmissionKey, tmp_path: Path) -> None:
    ciphertext = _encrypt(server_key, b"\0" * 1_000_000, "zeros", tmp_path / "1-a-b-doc.gpg")
    assert len(ciphertext) > 1_000_000


def test_ciphertext_decrypts_with_the_airgap_key_to_exact_bytes_and_name(
    server_key: SubmissionKey, ombuds_key: KeyPair, tmp_path: Path
) -> None:
    plaintext = os.urandom(300_000)
    encrypted = tmp_path / "1-brave-otter-doc.gpg"
    _encrypt(server_key, plaintext, "Budget (final) é.xlsx", encrypted)
    result = decrypt_file(ombuds_key.airgap_home, encrypted, tmp_path / "out")
    assert result.original_name == "Budget (final) é.xlsx"
    assert result.path.name == "Budget (final) é.xlsx"
    assert result.path.read_bytes() == plaintext


def test_streamed_encryption_matches_the_written_bytes(
    server_key: SubmissionKey, ombuds_key: KeyPair, tmp_path: Path
) -> None:
    chunks = [os.urandom(65536) for _ in range(20)]
    encrypted = tmp_path / "2-brave-otter-doc.gpg"
    with encrypted.open("wb") as out:
        stream = server_key.stream(out, "video.mp4")
        for chunk in chunks:
            stream.write(chunk)
        stream.finish()
    result = decrypt_file(ombuds_key.airgap_home, encrypted, tmp_path / "out")
    assert result.path.read_bytes() == b"".join(chunks)


def test_the_servers_gnupg_home_holds_no_secret_key(server_key: SubmissionKey) -> None:
    assert server_key.has_secret_keys() is False


def test_a_server_home_holding_a_private_key_is_unusable(
    server_key: SubmissionKey, ombuds_key: KeyPair, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.asc"
    secret.write_bytes(_gpg(ombuds_key.airgap_home, "--armor", "--export-secret-keys").encode())
    _gpg(server_key.home, "--import", str(secret))
    stop_agent(server_key.home)
    assert server_key.has_secret_keys()
    with pytest.raises(KeyUnusableError, match="holds a private key"):
        server_key.check(NOW)


def test_keygen_refuses_a_second_key_with_the_same_name(tmp_path: Path) -> None:
    from securedrop_lite.crypto import CryptoError

    home = tmp_path / "airgap"
    first = generate_key(home, "Same Name", "")
    with pytest.raises(CryptoError, match="already exists"):
        generate_key(home, "Same Name", "")
    stop_agent(home)
    assert f"fpr:::::::::{first}:" in _gpg(home, "--with-colons", "--list-keys")


def test_check_accepts_the_curve25519_key(server_key: SubmissionKey) -> None:
    info = server_key.check(NOW)
    assert info.fingerprint == server_key.fingerprint
    assert "cv25519" in info.algorithm


def test_a_private_key_is_refused(tmp_path: Path, ombuds_key: KeyPair) -> None:
    secret = _gpg(ombuds_key.airgap_home, "--armor", "--export-secret-keys").encode()
    with pytest.raises(KeyUnusableError, match="private key"):
        import_public_key(tmp_path / "home", secret)


def test_a_sign_only_key_is_refused(tmp_path: Path) -> None:
    armored = _make_key(tmp_path / "maker", "Sign Only", ("ed25519", "sign", "never"))
    home = tmp_path / "home"
    key = SubmissionKey(home, import_public_key(home, armored))
    with pytest.raises(KeyUnusableError, match="no encryption-capable key"):
        key.check(NOW)


def test_a_weak_rsa_key_is_refused(tmp_path: Path) -> None:
    armored = _make_key(
        tmp_path / "maker", "Weak", ("rsa2048", "sign", "never"), ("rsa2048", "encr", "never")
    )
    home = tmp_path / "home"
    key = SubmissionKey(home, import_public_key(home, armored))
    with pytest.raises(KeyUnusableError, match="too weak"):
        key.check(NOW)


def test_an_expired_key_is_refused(tmp_path: Path) -> None:
    armored = _make_key(
        tmp_path / "maker", "Expiring", ("ed25519", "sign", "2d"), ("cv25519", "encr", "2d")
    )
    home = tmp_path / "home"
    key = SubmissionKey(home, import_public_key(home, armored))
    assert key.check(NOW + timedelta(days=1))
    with pytest.raises(KeyUnusableError, match="expired"):
        key.check(NOW + timedelta(days=3))


def test_an_expired_encryption_subkey_is_refused(tmp_path: Path) -> None:
    armored = _make_key(
        tmp_path / "maker",
        "Subkey Expiring",
        ("ed25519", "sign", "never"),
        ("cv25519", "encr", "1d"),
    )
    home = tmp_path / "home"
    key = SubmissionKey(home, import_public_key(home, armored))
    with pytest.raises(KeyUnusableError, match="expired"):
        key.check(NOW + timedelta(days=2))


def test_a_missing_key_or_home_is_unusable(tmp_path: Path) -> None:
    with pytest.raises(KeyUnusableError):
        SubmissionKey(tmp_path / "nowhere", "A" * 40).check(NOW)
    (tmp_path / "empty").mkdir(mode=0o700)
    with pytest.raises(KeyUnusableError):
        SubmissionKey(tmp_path / "empty", "A" * 40).check(NOW)


def test_literal_file_name_drops_control_characters_and_caps_length() -> None:
    assert literal_file_name("a\nb\x00c\u202e.pdf") == "abc.pdf"
    assert len(literal_file_name("é" * 300).encode()) <= 255
    assert literal_file_name("\n\t") == "upload"


def test_gpg_stream_abort_leaves_no_process(server_key: SubmissionKey, tmp_path: Path) -> None:
    with (tmp_path / "partial").open("wb") as out:
        stream = server_key.stream(out, "x")
        stream.write(b"some bytes")
        stream.abort()
    assert stream._proc.returncode is not None


# -- source boxes ---------------------------------------------------------------------


def test_box_round_trip() -> None:
    keys = SourceKeyPair(os.urandom(32))
    assert (
        keys.open(seal_to_source(keys.public_bytes, "a reply, ñ".encode())) == "a reply, ñ".encode()
    )


def test_box_is_randomized_and_hides_the_plaintext() -> None:
    keys = SourceKeyPair(os.urandom(32))
    one, two = (seal_to_source(keys.public_bytes, b"same reply text") for _ in range(2))
    assert one != two
    assert b"same reply text" not in one


def test_another_sources_key_cannot_open_a_box() -> None:
    mine, theirs = SourceKeyPair(os.urandom(32)), SourceKeyPair(os.urandom(32))
    with pytest.raises(DecryptionError):
        theirs.open(seal_to_source(mine.public_bytes, b"for you only"))


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[:-1],
        lambda b: b[:20],
        lambda b: b"",
        lambda b: b"XXXXX" + b[5:],
        lambda b: b[:10] + bytes([b[10] ^ 1]) + b[11:],
        lambda b: b[:-1] + bytes([b[-1] ^ 1]),
        lambda b: b[:5] + bytes(32) + b[37:],
    ],
    ids=["truncated-tag", "short", "empty", "magic", "ephemeral-key", "tag-bit", "zero-key"],
)
def test_damaged_boxes_fail_with_one_opaque_error(damage: object) -> None:
    keys = SourceKeyPair(os.urandom(32))
    box = seal_to_source(keys.public_bytes, b"reply")
    with pytest.raises(DecryptionError) as caught:
        keys.open(damage(box))  # type: ignore[operator]
    assert str(caught.value) == ""
