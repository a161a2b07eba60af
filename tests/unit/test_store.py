"""The store: one path gateway, no symlinks, unnamed staging, day-granular mtimes."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from securedrop_lite.filetimes import start_of_day
from securedrop_lite.store import STAGING_DIR, Store, StoreError

NOW = datetime(2026, 11, 22, 15, 47, 13, tzinfo=UTC)
DIR = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "store", lambda: NOW)


def _commit(store: Store, data: bytes, name: str = "1-brave-otter-msg.gpg") -> Path:
    staged = store.stage()
    staged.file.write(data)
    store.commit(staged, DIR, name)
    return store.path_for(DIR, name)


def test_store_refuses_a_relative_root() -> None:
    with pytest.raises(StoreError):
        Store(Path("relative/store"), lambda: NOW)


@pytest.mark.parametrize(
    ("source_dir", "file_name"),
    [
        ("../etc", None),
        ("0123456789ABCDEF0123456789ABCDEF", None),
        (DIR, "../../etc/passwd"),
        (DIR, "/etc/passwd"),
        (DIR, "1-brave-otter-msg.gpg/../../x"),
        (DIR, "0-brave-otter-msg.gpg"),
        (DIR, "1-brave-otter-exe.gpg"),
        (DIR, "1-brave-otter-msg.gpg\n"),
        (DIR, ".staging"),
    ],
)
def test_path_gateway_refuses_names_outside_the_pattern(
    store: Store, source_dir: str, file_name: str | None
) -> None:
    with pytest.raises(StoreError):
        store.path_for(source_dir, file_name)


def test_store_rejects_symlinks(store: Store, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, store.root / DIR)
    with pytest.raises(StoreError):
        store.path_for(DIR, "1-brave-otter-msg.gpg")
    other = "f" * 32
    (store.root / other).mkdir()
    os.symlink(outside / "secret", store.root / other / "1-brave-otter-msg.gpg")
    with pytest.raises(StoreError):
        store.path_for(other, "1-brave-otter-msg.gpg")


def test_committed_file_and_directory_have_day_granular_mtimes(store: Store) -> None:
    path = _commit(store, b"ciphertext")
    midnight = start_of_day(NOW)
    assert path.stat().st_mtime == midnight
    assert path.parent.stat().st_mtime == midnight
    assert datetime.fromtimestamp(midnight, UTC).hour == 0


def test_staged_file_has_no_name_until_commit(store: Store) -> None:
    staged = store.stage()
    staged.file.write(b"partial ciphertext")
    assert list((store.root / STAGING_DIR).iterdir()) == []
    staged.discard()
    assert list(store.root.rglob("*.gpg")) == []


def test_commit_never_overwrites(store: Store) -> None:
    _commit(store, b"first")
    with pytest.raises(StoreError):
        _commit(store, b"second")
    assert store.path_for(DIR, "1-brave-otter-msg.gpg").read_bytes() == b"first"


def test_delete_overwrites_then_unlinks(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _commit(store, b"A" * 5000)
    seen: list[bytes] = []
    real_unlink = Path.unlink

    def spy_unlink(self: Path, missing_ok: bool = False) -> None:
        seen.append(self.read_bytes())
        real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", spy_unlink)
    store.delete_item(DIR, path.name)
    assert not path.exists()
    assert len(seen[0]) == 5000
    assert seen[0] != b"A" * 5000


def test_delete_source_dir_removes_everything(store: Store) -> None:
    _commit(store, b"one", "1-brave-otter-msg.gpg")
    _commit(store, b"two", "2-brave-otter-doc.gpg")
    store.delete_source_dir(DIR)
    assert not (store.root / DIR).exists()


def test_stale_named_staging_files_are_removed_at_start(tmp_path: Path) -> None:
    staging = tmp_path / "store" / STAGING_DIR
    staging.mkdir(parents=True)
    (staging / "999999999-abcd.part").write_bytes(b"left by a dead process")
    Store(tmp_path / "store", lambda: NOW)
    assert list(staging.iterdir()) == []
