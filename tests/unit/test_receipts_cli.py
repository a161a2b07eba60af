"""sdlite verify-receipt / receipt-key and sdlite-airgap verify-receipt."""

from __future__ import annotations

import os
import stat
from datetime import date
from pathlib import Path

import pytest

from securedrop_lite import cli
from securedrop_lite.airgap.cli import main as airgap
from securedrop_lite.cli import main as sdlite
from securedrop_lite.config import config_path, load_config
from securedrop_lite.receipts import ReceiptKey, entry_digest, entry_document, public_key_text
from tests.conftest import KeyPair
from tests.unit.test_airgap_cli import assert_offline, guarded

DAY = date(2026, 11, 22)
TEXT = "Día 7: the señor asked me to stay late again.\n- I said no.\n"


def _instance_key(data_dir: Path) -> ReceiptKey:
    return ReceiptKey.load(load_config(os.environ, config_path(data_dir)).receipt_key_path)


def _entry_file(tmp_path: Path, key: ReceiptKey, name: str = "entry.txt") -> Path:
    receipt = key.sign(entry_digest(TEXT), DAY)
    path = tmp_path / name
    path.write_bytes(entry_document(TEXT, receipt, "Incident log entry, version 1."))
    return path


def _tampered(path: Path) -> Path:
    path.write_bytes(path.read_bytes().replace(b"stay late", b"stay lame"))
    return path


@pytest.fixture
def entry_file(data_dir: Path, tmp_path: Path) -> Path:
    return _entry_file(tmp_path, _instance_key(data_dir))


@pytest.fixture
def published_key(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """What the office publishes: the output of `sdlite receipt-key`, saved to a file."""
    assert sdlite(["receipt-key", "--data-dir", str(data_dir)]) == 0
    path = tmp_path / "office-receipt-key.txt"
    path.write_text(capsys.readouterr().out)
    return path


def test_init_creates_a_receipt_key_readable_by_the_service_only(data_dir: Path) -> None:
    path = load_config(os.environ, config_path(data_dir)).receipt_key_path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(_instance_key(data_dir).public_bytes) == 32


def test_a_failed_init_leaves_no_receipt_key(
    tmp_path: Path, ombuds_key: KeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = []
    load_or_create = ReceiptKey.load_or_create

    def make_then_fail(path: Path) -> ReceiptKey:
        made.append(load_or_create(path))
        raise RuntimeError("disk full")

    monkeypatch.setattr(cli.ReceiptKey, "load_or_create", staticmethod(make_then_fail))
    data = tmp_path / "instance"
    with pytest.raises(RuntimeError, match="disk full"):
        cli.initialize(data, ombuds_key.public_key, "Office")
    assert made
    assert not config_path(data).exists()
    assert not (data / "receipt_ed25519.key").exists()


def test_sdlite_verify_receipt_accepts_a_valid_entry(
    data_dir: Path, entry_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert sdlite(["verify-receipt", str(entry_file), "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"valid: this entry (SHA-256 {entry_digest(TEXT)}) existed on 2026-11-22")
    assert _instance_key(data_dir).fingerprint() in out


def test_sdlite_verify_receipt_refuses_an_entry_with_one_byte_changed(
    data_dir: Path, entry_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert sdlite(["verify-receipt", str(_tampered(entry_file)), "--data-dir", str(data_dir)]) == 1
    assert capsys.readouterr().out.startswith("INVALID: the entry text does not match")


def test_sdlite_verify_receipt_refuses_another_instances_receipt(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = _entry_file(tmp_path, ReceiptKey.load_or_create(tmp_path / "foreign.key"))
    assert sdlite(["verify-receipt", str(foreign), "--data-dir", str(data_dir)]) == 1
    assert "INVALID: signed by another key" in capsys.readouterr().out


def test_sdlite_verify_receipt_reports_an_unreadable_file(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.txt"
    assert sdlite(["verify-receipt", str(missing), "--data-dir", str(data_dir)]) == 2
    captured = capsys.readouterr()
    assert f"error: cannot read {missing}" in captured.err
    assert "Traceback" not in captured.out + captured.err


def test_sdlite_refuses_a_receipt_key_open_to_others(
    data_dir: Path, entry_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (data_dir / "receipt_ed25519.key").chmod(0o644)
    assert sdlite(["verify-receipt", str(entry_file), "--data-dir", str(data_dir)]) == 2
    assert "error: receipt key:" in capsys.readouterr().err


def test_sdlite_verify_receipt_never_creates_a_missing_key(
    data_dir: Path, entry_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (data_dir / "receipt_ed25519.key").unlink()
    assert sdlite(["verify-receipt", str(entry_file), "--data-dir", str(data_dir)]) == 2
    assert "error: receipt key: cannot read" in capsys.readouterr().err
    assert not (data_dir / "receipt_ed25519.key").exists()


def test_sdlite_receipt_key_prints_the_key_and_its_fingerprint(
    data_dir: Path, published_key: Path
) -> None:
    key = _instance_key(data_dir)
    lines = published_key.read_text().splitlines()
    assert lines[0].startswith("ed25519:")
    assert lines[1] == f"fingerprint: {key.fingerprint()}"


def test_airgap_verify_receipt_accepts_a_valid_entry_with_the_published_key(
    entry_file: Path, published_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert airgap(["verify-receipt", str(entry_file), "--key", str(published_key)]) == 0
    assert "existed on 2026-11-22" in capsys.readouterr().out


def test_airgap_verify_receipt_takes_the_key_text_itself(
    entry_file: Path, published_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_line = published_key.read_text().splitlines()[0]
    assert airgap(["verify-receipt", str(entry_file), "--key", key_line]) == 0
    assert capsys.readouterr().out.startswith("valid:")


def test_airgap_verify_receipt_refuses_a_tampered_entry(
    entry_file: Path, published_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert airgap(["verify-receipt", str(_tampered(entry_file)), "--key", str(published_key)]) == 1
    assert capsys.readouterr().out.startswith("INVALID:")


def test_airgap_verify_receipt_refuses_another_key(
    entry_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = ReceiptKey.load_or_create(tmp_path / "other.key")
    other_text = public_key_text(other.public_bytes)
    assert airgap(["verify-receipt", str(entry_file), "--key", other_text]) == 1
    assert "INVALID: signed by another key" in capsys.readouterr().out


def test_airgap_verify_receipt_requires_a_key(entry_file: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        airgap(["verify-receipt", str(entry_file)])
    assert exit_info.value.code == 2


@pytest.mark.parametrize(
    ("key_content", "reason"),
    [
        (None, "cannot read"),
        ("no key in here\n", "exactly one"),
        ("ed25519:AAAA\n", "public key"),
    ],
)
def test_airgap_verify_receipt_explains_an_unusable_key(
    entry_file: Path,
    published_key: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    key_content: str | None,
    reason: str,
) -> None:
    key_file = tmp_path / "key.txt"
    if key_content is not None:
        key_file.write_text(key_content)
    assert airgap(["verify-receipt", str(entry_file), "--key", str(key_file)]) == 2
    assert reason in capsys.readouterr().err


def test_airgap_verify_receipt_reports_an_unreadable_entry_file(
    tmp_path: Path, published_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert airgap(["verify-receipt", str(tmp_path), "--key", str(published_key)]) == 2
    assert "error: cannot read" in capsys.readouterr().err


def test_airgap_verify_receipt_neither_uses_nor_imports_networking_code(
    entry_file: Path, published_key: Path
) -> None:
    done = guarded("verify-receipt", str(entry_file), "--key", str(published_key))
    assert done.returncode == 0, done.stdout + done.stderr
    assert_offline(done)
    tampered = guarded("verify-receipt", str(_tampered(entry_file)), "--key", str(published_key))
    assert tampered.returncode == 1, tampered.stdout + tampered.stderr
    assert_offline(tampered)
