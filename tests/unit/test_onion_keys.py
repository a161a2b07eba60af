"""Onion service keys in tor's file format, and x25519 client keys."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from securedrop_lite.onion import (
    ClientKeyPair,
    OnionKeyError,
    ServiceKey,
    auth_private_line,
    authorized_client_line,
    read_address,
)
from securedrop_lite.onion.endpoint import ControlEndpoint
from securedrop_lite.onion.keys import service_id

KEY_FILES = ("hs_ed25519_secret_key", "hs_ed25519_public_key", "hostname")


def test_service_id_known_answer_from_tors_test_suite() -> None:
    # tor's src/test/test_hs_common.c, test_build_address (made by hs_build_address.py).
    public = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    assert service_id(public) == "25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5sid"
    with pytest.raises(OnionKeyError):
        service_id(public[:31])


def test_onion_key_files_are_created_with_mode_0600_in_a_0700_folder(tmp_path: Path) -> None:
    key = ServiceKey.load_or_create(tmp_path / "onion" / "source")
    directory = tmp_path / "onion" / "source"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for name in KEY_FILES:
        assert stat.S_IMODE((directory / name).stat().st_mode) == 0o600, name
    assert (directory / "hostname").read_text() == key.address + "\n"


def test_a_service_key_is_made_once_and_then_kept(tmp_path: Path) -> None:
    first = ServiceKey.load_or_create(tmp_path / "source")
    again = ServiceKey.load_or_create(tmp_path / "source")
    assert again == first
    assert read_address(tmp_path / "source") == first.address
    assert ServiceKey.load_or_create(tmp_path / "other").address != first.address


def test_the_secret_key_is_tors_expanded_form_of_a_clamped_scalar(tmp_path: Path) -> None:
    key = ServiceKey.load_or_create(tmp_path / "source")
    raw = (tmp_path / "source" / "hs_ed25519_secret_key").read_bytes()
    assert raw[:32] == b"== ed25519v1-secret: type0 ==\x00\x00\x00"
    scalar = raw[32:64]
    assert scalar[0] & 7 == 0
    assert scalar[31] & 0xC0 == 0x40
    assert key.add_onion_key() == "ED25519-V3:" + base64.b64encode(raw[32:]).decode()


def test_a_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    ServiceKey.load_or_create(tmp_path / "source")
    os.chmod(tmp_path / "source" / "hs_ed25519_secret_key", 0o640)
    with pytest.raises(OnionKeyError, match="readable by others"):
        ServiceKey.load(tmp_path / "source")


def test_the_address_is_read_without_the_secret_key(tmp_path: Path) -> None:
    # The source app reads its address; its systemd unit hides the secret keys from it.
    key = ServiceKey.load_or_create(tmp_path / "source")
    (tmp_path / "source" / "hs_ed25519_secret_key").unlink()
    assert read_address(tmp_path / "source") == key.address
    (tmp_path / "source" / "hostname").write_text("b" * 55 + "d.onion\n")
    assert read_address(tmp_path / "source") is None  # disagrees with the public key


def test_a_symlinked_key_is_refused(tmp_path: Path) -> None:
    real = ServiceKey.load_or_create(tmp_path / "real")
    assert real.address
    (tmp_path / "linked").mkdir(mode=0o700)
    for name in KEY_FILES:
        (tmp_path / "linked" / name).symlink_to(tmp_path / "real" / name)
    with pytest.raises(OnionKeyError, match="cannot read"):
        ServiceKey.load(tmp_path / "linked")


@pytest.mark.parametrize("damage", ["truncate", "header", "hostname"])
def test_a_damaged_key_folder_is_refused(tmp_path: Path, damage: str) -> None:
    ServiceKey.load_or_create(tmp_path / "source")
    secret = tmp_path / "source" / "hs_ed25519_secret_key"
    if damage == "truncate":
        secret.write_bytes(secret.read_bytes()[:-1])
    elif damage == "header":
        secret.write_bytes(b"== ed25519v1-public: type0 ==\x00\x00\x00" + bytes(64))
    else:
        (tmp_path / "source" / "hostname").write_text("a" * 56 + ".onion\n")
    with pytest.raises(OnionKeyError):
        ServiceKey.load(tmp_path / "source")


def test_a_missing_key_folder_has_no_address(tmp_path: Path) -> None:
    assert read_address(tmp_path / "nothing") is None


def test_client_key_pairs_are_x25519_halves_of_one_key() -> None:
    pair = ClientKeyPair.generate()
    assert len(pair.public) == len(pair.private) == 52
    private = X25519PrivateKey.from_private_bytes(base64.b32decode(pair.private + "===="))
    public = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert base64.b32encode(public).decode().rstrip("=") == pair.public
    assert ClientKeyPair.generate() != pair


def test_client_key_lines_follow_tors_file_formats() -> None:
    pair = ClientKeyPair.generate()
    address = "a" * 55 + "d.onion"
    assert auth_private_line(address, pair.private) == (
        f"{'a' * 55}d:descriptor:x25519:{pair.private}"
    )
    assert authorized_client_line(pair.public) == f"descriptor:x25519:{pair.public}"
    with pytest.raises(OnionKeyError):
        authorized_client_line("not a key\ndescriptor:x25519:" + pair.public)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("unix:/run/tor/control", "unix:/run/tor/control"),
        ("127.0.0.1:9051", "127.0.0.1:9051"),
        ("9051", "127.0.0.1:9051"),
        ("localhost:9051", "localhost:9051"),
    ],
)
def test_control_endpoints_parse(text: str, expected: str) -> None:
    assert str(ControlEndpoint.parse(text)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "10.0.0.5:9051",
        "0.0.0.0:9051",
        "example.org:9051",
        "unix:run/tor",
        "127.0.0.1:x",
        "127.0.0.1:70000",
    ],
)
def test_control_endpoints_off_loopback_or_malformed_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="must be"):
        ControlEndpoint.parse(text)
