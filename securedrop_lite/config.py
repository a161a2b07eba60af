"""Typed, frozen configuration: one TOML file in the data directory plus SDLITE_* overrides."""

from __future__ import annotations

import base64
import ipaddress
import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from securedrop_lite.onion.endpoint import ControlEndpoint

CONFIG_FILE_NAME = "sdlite.toml"
MIB = 1024 * 1024


class ConfigError(Exception):
    """The configuration is missing, malformed or unsafe."""


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost parameters for codename derivations."""

    time_cost: int = 3
    memory_cost_kib: int = 64 * 1024
    parallelism: int = 4

    # The floor for production: DESIGN.md asks for >= 64 MiB.
    MIN_MEMORY_KIB = 64 * 1024

    @classmethod
    def insecure_for_tests(cls) -> KdfParams:
        """Return fast parameters; only the test profile may select them."""
        return cls(time_cost=1, memory_cost_kib=8, parallelism=1)


KDF_PROFILES = {"default": KdfParams(), "insecure-test": KdfParams.insecure_for_tests()}


@dataclass(frozen=True)
class Config:
    """Everything an app or the CLI needs, resolved and checked once."""

    data_dir: Path
    pepper_id: bytes
    pepper_key: bytes
    secret_key: bytes
    submission_key_fingerprint: str
    database_url: str = ""
    organization_name: str = "Ombuds Office"
    max_upload_bytes: int = 500 * MIB
    max_message_chars: int = 100_000
    allow_uploads: bool = True
    session_lifetime: timedelta = timedelta(hours=2)
    kdf: KdfParams = field(default_factory=KdfParams)
    # Overrides the address read from the source service's key (DATA_DIR/onion/source),
    # for a source service whose key lives elsewhere.
    onion_address: str | None = None
    # Where the apps listen (loopback only; tor forwards the onion services here), and
    # tor's control port, through which `sdlite onion up` publishes them.
    source_listen: str = "127.0.0.1:8080"
    ombuds_listen: str = "127.0.0.1:8081"
    tor_control: ControlEndpoint | None = None
    tor_control_password: str | None = None
    onion_pow: bool = True
    # A request that sends nothing for this long is stopped; its total time is unbounded.
    upload_idle_seconds: int = 300
    # Starting values of the settings admins edit on /admin/settings.
    welcome_text: str = ""
    # Empty: sources see the dates from acknowledge_days and respond_days, in their language;
    # an admin's text here is shown as written, in one language.
    response_promise: str = ""
    retention_days: int = 0  # 0: keep until deleted
    # The ombuds interface: idle sessions end; failed logins per account are throttled.
    ombuds_idle_timeout: timedelta = timedelta(minutes=30)
    login_attempts_per_minute: int = 5
    # The source interface: codename logins per browser session and minute. A codename of
    # seven words cannot be guessed at any rate; this bounds what guessing costs the server.
    codename_attempts_per_minute: int = 5
    # What the office aims for, counted in days from a source's first submission: a first
    # reply (acknowledgment) by the first, a response by the second. Sources see both dates;
    # the inbox highlights sources past the first.
    acknowledge_days: int = 7
    respond_days: int = 90
    # Conversation requests carry contact details: they are destroyed after this many days.
    conversation_request_days: int = 30
    # Where the "leave this site" link on every source page lands, once the session is gone.
    quick_exit_url: str = "https://duckduckgo.com/?q=weather"

    def __post_init__(self) -> None:
        if not self.data_dir.is_absolute():
            raise ConfigError(f"data_dir must be an absolute path, not {self.data_dir}")
        for name in ("pepper_id", "pepper_key", "secret_key"):
            if len(getattr(self, name)) < 32:
                raise ConfigError(f"{name} must be at least 32 random bytes")
        if self.pepper_id == self.pepper_key:
            raise ConfigError("pepper_id and pepper_key must differ")
        if self.max_upload_bytes <= 0 or self.max_message_chars <= 0:
            raise ConfigError("upload and message limits must be positive")
        if self.upload_idle_seconds <= 0:
            raise ConfigError("upload_idle_seconds must be positive")
        if self.retention_days < 0 or self.login_attempts_per_minute <= 0:
            raise ConfigError("retention_days and login_attempts_per_minute cannot be negative")
        if self.codename_attempts_per_minute <= 0:
            raise ConfigError("codename_attempts_per_minute must be positive")
        for listen in (self.source_listen, self.ombuds_listen):
            check_loopback(listen)
        if not 1 <= self.acknowledge_days <= self.respond_days <= 3650:
            raise ConfigError("acknowledge_days and respond_days: 1 <= acknowledge <= respond")
        if not 1 <= self.conversation_request_days <= 3650:
            raise ConfigError("conversation_request_days must be between 1 and 3650")
        if not self.quick_exit_url.startswith(("https://", "http://")):
            raise ConfigError("quick_exit_url must be an http:// or https:// address")
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{self.data_dir / 'sdlite.db'}")

    @property
    def store_dir(self) -> Path:
        return self.data_dir / "store"

    @property
    def gpg_home(self) -> Path:
        return self.data_dir / "gnupg"

    @property
    def onion_dir(self) -> Path:
        return self.data_dir / "onion"

    @property
    def receipt_key_path(self) -> Path:
        return self.data_dir / "receipt_ed25519.key"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def admin_log_path(self) -> Path:
        return self.log_dir / "admin.log"


def check_loopback(bind: str) -> None:
    """Refuse a HOST:PORT that is not on loopback: tor publishes the apps, nothing else."""
    host, _, port = bind.rpartition(":")
    host = host.strip("[]")
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{bind} is not a loopback HOST:PORT: sdlite serves on loopback only")


def _endpoint(value: Any, name: str) -> ControlEndpoint | None:
    if not value:
        return None
    try:
        return ControlEndpoint.parse(str(value))
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from exc


def _b64(value: Any, name: str) -> bytes:
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise ConfigError(f"{name} is not valid base64") from exc


def _load_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError as exc:
        raise ConfigError(f"no configuration at {path}: run 'sdlite init' first") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc


def _bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("1", "true", "yes", "0", "false", "no"):
        return value.lower() in ("1", "true", "yes")
    raise ConfigError(f"{name} must be true or false")


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a whole number") from exc


# Settings that the TOML file and SDLITE_<NAME> may set, with their parsers.
_PARSERS: dict[str, Any] = {
    "database_url": lambda v, n: str(v),
    "organization_name": lambda v, n: str(v),
    "max_upload_bytes": _int,
    "max_message_chars": _int,
    "allow_uploads": _bool,
    "session_lifetime_minutes": _int,
    "kdf_profile": lambda v, n: str(v),
    "onion_address": lambda v, n: str(v) or None,
    "source_listen": lambda v, n: str(v),
    "ombuds_listen": lambda v, n: str(v),
    "tor_control": _endpoint,
    "onion_pow": _bool,
    "upload_idle_seconds": _int,
    "welcome_text": lambda v, n: str(v),
    "response_promise": lambda v, n: str(v),
    "retention_days": _int,
    "ombuds_idle_minutes": _int,
    "login_attempts_per_minute": _int,
    "codename_attempts_per_minute": _int,
    "acknowledge_days": _int,
    "respond_days": _int,
    "conversation_request_days": _int,
    "quick_exit_url": lambda v, n: str(v),
}


def _load_settings(raw: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for name, parse in _PARSERS.items():
        if name in raw:
            settings[name] = parse(raw[name], name)
        env_name = "SDLITE_" + name.upper()
        if env_name in env:
            settings[name] = parse(env[env_name], env_name)
    return settings


def _load_kdf(profile: str, env: Mapping[str, str]) -> KdfParams:
    if profile not in KDF_PROFILES:
        raise ConfigError(f"kdf_profile must be one of {sorted(KDF_PROFILES)}")
    if profile != "default" and env.get("SDLITE_TESTING") != "1":
        raise ConfigError(
            f"kdf_profile {profile!r} makes codenames cheap to guess; it is only for the test "
            "suite, which also sets SDLITE_TESTING=1"
        )
    return KDF_PROFILES[profile]


_TOP_LEVEL_KEYS = {*_PARSERS, "submission_key_fingerprint", "secrets"}
_SECRET_KEYS = {"pepper_id", "pepper_key", "secret_key", "tor_control_password"}


def _check_keys(raw: Mapping[str, Any]) -> None:
    unknown = set(raw) - _TOP_LEVEL_KEYS
    if unknown:
        raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
    secrets_table = raw.get("secrets", {})
    if not isinstance(secrets_table, dict):
        raise ConfigError("[secrets] must be a table")
    misplaced = set(secrets_table) - _SECRET_KEYS
    if misplaced:
        raise ConfigError(
            f"unknown keys in [secrets]: {', '.join(sorted(misplaced))} (settings go above "
            "the [secrets] table; everything after it belongs to it)"
        )


def _check_private(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & 0o077:
        raise ConfigError(f"{path} is readable by others (mode {mode & 0o777:o}): chmod 600 it")


def load_config(env: Mapping[str, str], path: Path) -> Config:
    """Build the Config from the TOML file at path and SDLITE_* variables in env."""
    path = path.resolve()
    raw = _load_file(path)
    _check_private(path)
    _check_keys(raw)
    secrets_table = raw.get("secrets", {})
    settings = _load_settings(raw, env)
    kdf = _load_kdf(settings.pop("kdf_profile", "default"), env)
    minutes = settings.pop("session_lifetime_minutes", 120)
    idle_minutes = settings.pop("ombuds_idle_minutes", 30)
    if minutes <= 0 or idle_minutes <= 0:
        raise ConfigError("session_lifetime_minutes and ombuds_idle_minutes must be positive")
    fingerprint = raw.get("submission_key_fingerprint")
    if not isinstance(fingerprint, str) or len(fingerprint) != 40:
        raise ConfigError("submission_key_fingerprint must be a 40-character fingerprint")
    password = env.get("SDLITE_TOR_CONTROL_PASSWORD", secrets_table.get("tor_control_password"))
    if password is not None and not isinstance(password, str):
        raise ConfigError("secrets.tor_control_password must be a string")
    return Config(
        data_dir=path.parent,
        tor_control_password=password or None,
        pepper_id=_b64(secrets_table.get("pepper_id"), "secrets.pepper_id"),
        pepper_key=_b64(secrets_table.get("pepper_key"), "secrets.pepper_key"),
        secret_key=_b64(secrets_table.get("secret_key"), "secrets.secret_key"),
        submission_key_fingerprint=fingerprint.upper(),
        session_lifetime=timedelta(minutes=minutes),
        ombuds_idle_timeout=timedelta(minutes=idle_minutes),
        kdf=kdf,
        **settings,
    )


def config_path(data_dir: Path) -> Path:
    return data_dir / CONFIG_FILE_NAME


def render_new_config(fingerprint: str, organization_name: str) -> str:
    """Return the text of a new sdlite.toml with fresh instance secrets."""

    def fresh() -> str:
        return base64.b64encode(secrets.token_bytes(32)).decode()

    name = organization_name.replace("\\", "\\\\").replace('"', '\\"')
    return (
        "# securedrop-lite instance configuration. Keep this file mode 0600: it holds the\n"
        "# peppers. Every setting can be overridden by an SDLITE_<NAME> environment variable.\n"
        f'submission_key_fingerprint = "{fingerprint}"\n'
        f'organization_name = "{name}"\n'
        "max_upload_bytes = 524288000\n"
        "max_message_chars = 100000\n"
        "allow_uploads = true\n"
        "session_lifetime_minutes = 120\n"
        "# The ombuds interface: sessions end after this many idle minutes; failed logins\n"
        "# beyond this many per account per minute are refused.\n"
        "ombuds_idle_minutes = 30\n"
        "login_attempts_per_minute = 5\n"
        "# The source interface: codename logins per browser session per minute.\n"
        "codename_attempts_per_minute = 5\n"
        "# Starting values; once an admin saves /admin/settings, the database holds them.\n"
        "retention_days = 0\n"
        "# Days from a source's first submission by which the office aims to acknowledge it\n"
        "# (a first reply) and to respond; sources see both dates.\n"
        "acknowledge_days = 7\n"
        "respond_days = 90\n"
        "# Conversation requests hold contact details; they are destroyed after this many days.\n"
        "conversation_request_days = 30\n"
        '# Where the "leave this site" link on every source page lands.\n'
        'quick_exit_url = "https://duckduckgo.com/?q=weather"\n'
        "# Where the apps listen, on loopback; tor forwards the onion services here.\n"
        'source_listen = "127.0.0.1:8080"\n'
        'ombuds_listen = "127.0.0.1:8081"\n'
        "# tor's control port, through which `sdlite onion up` publishes both onion services\n"
        "# (cookie authentication; or set tor_control_password under [secrets]). Empty: sdlite\n"
        "# does not manage onion services (a torrc HiddenServiceDir does). See tor/README.md.\n"
        'tor_control = ""\n'
        "# Ask visitors of the source service for proof of work under a flood (tor >= 0.4.8).\n"
        "onion_pow = true\n"
        "\n[secrets]\n"
        f'pepper_id = "{fresh()}"\n'
        f'pepper_key = "{fresh()}"\n'
        f'secret_key = "{fresh()}"\n'
    )


def write_new_config(data_dir: Path, fingerprint: str, organization_name: str) -> Path:
    """Write a fresh sdlite.toml, mode 0600, refusing to overwrite one."""
    path = config_path(data_dir)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(render_new_config(fingerprint, organization_name))
    return path
