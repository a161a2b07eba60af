"""The typed config: built from the TOML file and SDLITE_* variables, checked once."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from securedrop_lite.config import (
    Config,
    ConfigError,
    KdfParams,
    config_path,
    load_config,
    write_new_config,
)

FPR = "A" * 40


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    return write_new_config(tmp_path, FPR, 'The "Quoted" Office')


def test_new_config_file_is_private(config_file: Path) -> None:
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600


def test_new_config_is_not_overwritten(config_file: Path) -> None:
    with pytest.raises(FileExistsError):
        write_new_config(config_file.parent, FPR, "Other")


def test_defaults(config_file: Path) -> None:
    config = load_config({}, config_file)
    assert config.data_dir == config_file.parent
    assert config.organization_name == 'The "Quoted" Office'
    assert config.max_upload_bytes == 500 * 1024 * 1024
    assert config.max_message_chars == 100_000
    assert config.session_lifetime.total_seconds() == 2 * 3600
    assert config.kdf == KdfParams()
    assert config.database_url == f"sqlite:///{config_file.parent / 'sdlite.db'}"
    assert config.pepper_id != config.pepper_key


def test_each_instance_gets_its_own_peppers(tmp_path: Path) -> None:
    loaded = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        loaded.append(load_config({}, write_new_config(tmp_path / name, FPR, name)))
    one, two = loaded
    assert one.pepper_id != two.pepper_id
    assert one.pepper_key != two.pepper_key
    assert one.secret_key != two.secret_key


def test_environment_overrides_the_file(config_file: Path) -> None:
    env = {
        "SDLITE_MAX_UPLOAD_BYTES": "1024",
        "SDLITE_ALLOW_UPLOADS": "false",
        "SDLITE_DATABASE_URL": "postgresql://db/sdlite",
        "SDLITE_SESSION_LIFETIME_MINUTES": "30",
        "SDLITE_ONION_ADDRESS": "example.onion",
    }
    config = load_config(env, config_file)
    assert config.max_upload_bytes == 1024
    assert config.allow_uploads is False
    assert config.database_url == "postgresql://db/sdlite"
    assert config.session_lifetime.total_seconds() == 1800
    assert config.onion_address == "example.onion"


def test_fast_kdf_only_through_the_test_profile(config_file: Path) -> None:
    fast = load_config({"SDLITE_KDF_PROFILE": "insecure-test", "SDLITE_TESTING": "1"}, config_file)
    assert fast.kdf.memory_cost_kib < KdfParams.MIN_MEMORY_KIB
    with pytest.raises(ConfigError, match="kdf_profile"):
        load_config({"SDLITE_KDF_PROFILE": "fast", "SDLITE_TESTING": "1"}, config_file)


def test_test_kdf_profile_is_refused_outside_the_test_suite(config_file: Path) -> None:
    with pytest.raises(ConfigError, match="only for the test suite"):
        load_config({"SDLITE_KDF_PROFILE": "insecure-test"}, config_file)
    config_file.write_text(config_file.read_text().replace(
        "session_lifetime_minutes", 'kdf_profile = "insecure-test"\nsession_lifetime_minutes'
    ))  # fmt: skip
    with pytest.raises(ConfigError, match="only for the test suite"):
        load_config({}, config_file)


def test_unknown_or_misplaced_settings_are_refused(config_file: Path) -> None:
    text = config_file.read_text()
    config_file.write_text(text + 'onion_address = "x.onion"\n')
    with pytest.raises(ConfigError, match="settings go above the"):
        load_config({}, config_file)
    config_file.write_text("max_uplod_bytes = 5\n" + text)
    with pytest.raises(ConfigError, match="unknown settings: max_uplod_bytes"):
        load_config({}, config_file)


def test_a_config_readable_by_others_is_refused(config_file: Path) -> None:
    config_file.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_config({}, config_file)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SDLITE_MAX_UPLOAD_BYTES", "lots"),
        ("SDLITE_MAX_UPLOAD_BYTES", "0"),
        ("SDLITE_ALLOW_UPLOADS", "maybe"),
        ("SDLITE_SESSION_LIFETIME_MINUTES", "-5"),
    ],
)
def test_bad_values_are_refused_with_a_clear_error(
    config_file: Path, name: str, value: str
) -> None:
    with pytest.raises(ConfigError):
        load_config({name: value}, config_file)


def test_missing_or_malformed_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sdlite init"):
        load_config({}, config_path(tmp_path))
    config_path(tmp_path).write_text("this is = = not toml")
    config_path(tmp_path).chmod(0o600)
    with pytest.raises(ConfigError, match="TOML"):
        load_config({}, config_path(tmp_path))


def test_config_refuses_short_secrets_and_relative_paths(tmp_path: Path) -> None:
    good = {"pepper_id": os.urandom(32), "pepper_key": os.urandom(32), "secret_key": os.urandom(32)}
    with pytest.raises(ConfigError, match="absolute"):
        Config(data_dir=Path("relative"), submission_key_fingerprint=FPR, **good)
    with pytest.raises(ConfigError, match="pepper_id"):
        Config(data_dir=tmp_path, submission_key_fingerprint=FPR, **{**good, "pepper_id": b"x"})


def test_config_is_frozen(config_file: Path) -> None:
    config = load_config({}, config_file)
    with pytest.raises(AttributeError):
        config.max_upload_bytes = 1  # type: ignore[misc]
