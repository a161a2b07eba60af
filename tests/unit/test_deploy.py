"""The deployment files: tor/torrc, the systemd units, deploy/*.sh and the Vagrantfile.

Nothing here starts tor, a unit or a VM. deploy/provision.sh runs only with --dry-run,
and even then behind stub commands that refuse (and record) any change to the system.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import pytest

from securedrop_lite.config import CONFIG_FILE_NAME, render_new_config
from securedrop_lite.crypto import SubmissionKey, import_public_key
from securedrop_lite.onion.keys import PUBLIC_KEY_FILE, SECRET_KEY_FILE
from securedrop_lite.onion.publisher import OnionSettings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
UNIT_DIR = DEPLOY / "systemd"
PROVISION = DEPLOY / "provision.sh"
STAGING_KEY = DEPLOY / "staging-key.sh"
TORRC = REPO / "tor" / "torrc"
JOURNALD_CONF = DEPLOY / "journald@sdlite.conf"
SHELL_SCRIPTS = sorted(DEPLOY.rglob("*.sh"))
UNIT_FILES = sorted(UNIT_DIR.glob("sdlite-*"))
APP_UNITS = ("sdlite-source", "sdlite-journalist", "sdlite-onion", "sdlite-purge")
SDLITE_BIN = "/opt/securedrop-lite/venv/bin/sdlite"
# How an admin runs the sdlite commands that use tor's control socket.
AS_TOR_CLIENT = "runuser -u sdlite -g sdlite -G debian-tor --"
LOOPBACK = ("127.0.0.1", "[::1]", "localhost")

# Commands a dry run must never reach; the stubs record any call and fail.
REFUSED_COMMANDS = (
    "apt-get", "apt", "dpkg", "adduser", "addgroup", "useradd", "usermod", "gpasswd",
    "deluser", "delgroup", "groupmod", "runuser", "sudo", "sg", "install", "apparmor_parser",
    "tar", "rsync", "ln", "chown",
)  # fmt: skip
TOR_GROUP = "debian-tor"


def missing(binary: str, package: str) -> NoReturn:
    """Fail, never skip: a check that cannot run is a check that does not pass."""
    pytest.fail(f"{binary} is missing: install Debian's {package} (make test does)")


# --- the units ------------------------------------------------------------------------


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """Return {section: {key: [values]}}; systemd keys may repeat, so no configparser."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        assert not line.endswith("\\"), f"{path.name}: no line continuations, please"
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, separator, value = line.partition("=")
        assert separator, f"{path.name}: not a key=value line: {line}"
        assert current is not None, f"{path.name}: {key} before any section"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def unit(name: str) -> dict[str, dict[str, list[str]]]:
    suffix = "" if "." in name else ".service"
    return parse_unit(UNIT_DIR / f"{name}{suffix}")


def service(name: str) -> dict[str, list[str]]:
    return unit(name)["Service"]


def words(values: list[str]) -> set[str]:
    return {word for value in values for word in value.split()}


def provision_constants() -> dict[str, str]:
    """The `readonly NAME=value` paths in provision.sh, with $NAME expanded."""
    constants: dict[str, str] = {}
    for name, value in re.findall(r"^readonly (\w+)=([^\s\"'(]+)$", PROVISION.read_text(), re.M):
        constants[name] = re.sub(r"\$(\w+)", lambda m: constants[m[1]], value)
    return constants


def test_every_unit_is_installed_by_provision() -> None:
    text = PROVISION.read_text()
    names = {path.name for path in UNIT_FILES}
    assert names == {
        "sdlite-tor.service",
        "sdlite-source.service",
        "sdlite-journalist.service",
        "sdlite-onion.service",
        "sdlite-purge.service",
        "sdlite-purge.timer",
    }
    for name in names:
        assert name in text


def test_units_run_sdlite_from_the_paths_provision_installs() -> None:
    constants = provision_constants()
    sdlite, data_dir = constants["SDLITE"], constants["DEFAULT_DATA_DIR"]
    assert sdlite == "/opt/securedrop-lite/venv/bin/sdlite"
    assert data_dir == "/var/lib/securedrop-lite"
    expected = {
        "sdlite-source": "serve source",
        "sdlite-journalist": "serve journalist",
        "sdlite-onion": "onion up",
        "sdlite-purge": "purge",
    }
    for name, command in expected.items():
        assert service(name)["ExecStart"] == [f"{sdlite} {command} --data-dir {data_dir}"]
    assert service("sdlite-onion")["ExecStop"] == [f"{sdlite} onion down --data-dir {data_dir}"]


@pytest.mark.parametrize("name", APP_UNITS)
def test_sdlite_units_run_as_sdlite_and_write_only_the_data_directory(name: str) -> None:
    settings = service(name)
    assert settings["User"] == ["sdlite"]
    assert settings["Group"] == ["sdlite"]
    assert settings["UMask"] == ["0077"]
    assert settings["ProtectSystem"] == ["strict"]
    assert settings["ReadWritePaths"] == [provision_constants()["DEFAULT_DATA_DIR"]]


@pytest.mark.parametrize("path", [p for p in UNIT_FILES if p.suffix == ".service"], ids=str)
def test_every_service_is_hardened(path: Path) -> None:
    settings = parse_unit(path)["Service"]
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes",
        "ProtectControlGroups": "yes",
        "RestrictNamespaces": "yes",
        "RestrictSUIDSGID": "yes",
        "LockPersonality": "yes",
        "SystemCallArchitectures": "native",
        "LimitCORE": "0",
        "CapabilityBoundingSet": "",
    }.items():
        assert settings.get(key) == [value], f"{path.name}: {key}={value}"
    assert "@system-service" in words(settings["SystemCallFilter"])
    families = words(settings["RestrictAddressFamilies"])
    assert families <= {"AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"}
    assert "User" in settings  # nothing runs as root


@pytest.mark.parametrize("name", ["sdlite-source", "sdlite-journalist", "sdlite-onion"])
def test_network_units_reach_loopback_only(name: str) -> None:
    settings = service(name)
    assert settings["IPAddressDeny"] == ["any"]
    assert settings["IPAddressAllow"] == ["localhost"]
    assert words(settings["RestrictAddressFamilies"]) == {"AF_UNIX", "AF_INET", "AF_INET6"}
    # The apps listen on loopback for tor: a private network namespace would cut them off.
    assert settings.get("PrivateNetwork", ["no"]) == ["no"]


def test_no_unit_binds_anything_but_loopback() -> None:
    for path in UNIT_FILES:
        for section in parse_unit(path).values():
            for key, values in section.items():
                assert not key.startswith("Listen"), f"{path.name}: no socket activation"
                for value in values:
                    for bind in re.findall(r"--bind[= ](\S+)", value):
                        assert bind.rpartition(":")[0] in LOOPBACK, f"{path.name}: {bind}"
                    if key == "IPAddressAllow":
                        assert value == "localhost", f"{path.name}: {value}"


def test_source_unit_cannot_reach_the_tor_control_socket() -> None:
    assert "-/run/tor" in service("sdlite-source")["InaccessiblePaths"]


def onion_settings() -> OnionSettings:
    """Where the units' data directory keeps the onion service keys."""
    onion_dir = Path(provision_constants()["DEFAULT_DATA_DIR"]) / "onion"
    return OnionSettings(onion_dir, None, None, "", "", source_pow=False)


def test_source_unit_cannot_read_the_onion_secret_keys() -> None:
    settings = onion_settings()
    secret_keys = {settings.source_dir / SECRET_KEY_FILE, settings.ombuds_dir / SECRET_KEY_FILE}
    hidden = service("sdlite-source")["InaccessiblePaths"]
    # "-": a key that does not exist yet is no error.
    assert {f"-{key}" for key in secret_keys} <= set(hidden)
    # The app reads its address from the public key and the hostname: those stay.
    assert not [path for path in hidden if PUBLIC_KEY_FILE in path or "hostname" in path]
    assert not [
        path
        for path in hidden
        if path.lstrip("-") in {"/var/lib/securedrop-lite", str(settings.onion_dir)}
    ]


def test_journalist_unit_keeps_the_ombuds_key_and_the_control_socket() -> None:
    # Its /admin republishes the ombuds service, with that key, through /run/tor.
    assert "InaccessiblePaths" not in service("sdlite-journalist")
    assert "ReadOnlyPaths" not in service("sdlite-journalist")
    assert service("sdlite-journalist")["SupplementaryGroups"] == [TOR_GROUP]


@pytest.mark.parametrize("name", APP_UNITS)
def test_only_the_onion_and_ombuds_units_get_tors_group(name: str) -> None:
    """The control socket and cookie are group debian-tor's: never the source app's."""
    groups = words(service(name).get("SupplementaryGroups", []))
    assert groups == ({TOR_GROUP} if name in {"sdlite-onion", "sdlite-journalist"} else set())
    assert TOR_GROUP not in service(name)["Group"]


def test_source_unit_cannot_change_the_config_or_the_onion_folder() -> None:
    data_dir = provision_constants()["DEFAULT_DATA_DIR"]
    settings = service("sdlite-source")
    read_only = words(settings["ReadOnlyPaths"])
    # A config rewritten by the source app could point ombuds_listen at its own port.
    assert read_only == {f"-{data_dir}/{CONFIG_FILE_NAME}", f"-{data_dir}/onion"}
    assert str(onion_settings().onion_dir) == f"{data_dir}/onion"
    # Nested in the read-write data directory: systemd applies the deeper path last.
    (writable,) = settings["ReadWritePaths"]
    assert all(path.lstrip("-").startswith(f"{writable}/") for path in read_only)
    # The publishers lock onion/.lock and write the client list there: they keep it.
    for name in ("sdlite-journalist", "sdlite-onion", "sdlite-purge"):
        assert "ReadOnlyPaths" not in service(name), name


def test_onion_unit_treats_every_nonzero_exit_as_a_failure() -> None:
    # `onion up` exits 0 when only the lack of client keys keeps the ombuds service closed.
    assert "SuccessExitStatus" not in service("sdlite-onion")
    assert service("sdlite-onion")["Restart"] == ["on-failure"]


def test_purge_runs_daily_without_network() -> None:
    assert service("sdlite-purge")["PrivateNetwork"] == ["yes"]
    assert service("sdlite-purge")["Type"] == ["oneshot"]
    timer = unit("sdlite-purge.timer")
    assert timer["Timer"]["OnCalendar"] == ["daily"]
    assert timer["Timer"]["Persistent"] == ["true"]
    assert timer["Install"]["WantedBy"] == ["timers.target"]


def test_tor_unit_follows_the_safety_rule() -> None:
    torrc = provision_constants()["TORRC"]
    assert torrc == "/etc/securedrop-lite/torrc"
    settings = service("sdlite-tor")
    command = f"/usr/bin/tor --defaults-torrc /dev/null -f {torrc}"
    assert settings["ExecStart"] == [f"{command} --RunAsDaemon 0"]
    assert settings["ExecStartPre"] == [f"{command} --verify-config"]
    assert settings["User"] == ["debian-tor"]
    assert settings["AmbientCapabilities"] == [""]
    assert settings["StateDirectory"] == ["tor"]
    assert settings["StateDirectoryMode"] == ["0700"]
    assert settings["RuntimeDirectory"] == ["tor"]
    # Debian's tor daemon shares /var/lib/tor and /run/tor: never both at once.
    assert "tor@default.service" in words(unit("sdlite-tor")["Unit"]["Conflicts"])


def test_onion_unit_republishes_whenever_tor_starts() -> None:
    onion = unit("sdlite-onion")
    assert onion["Unit"]["BindsTo"] == ["sdlite-tor.service"]
    assert onion["Unit"]["PartOf"] == ["sdlite-tor.service"]
    assert "sdlite-tor.service" in words(onion["Unit"]["After"])
    assert "sdlite-tor.service" in words(onion["Install"]["WantedBy"])
    assert onion["Service"]["Type"] == ["oneshot"]
    assert onion["Service"]["RemainAfterExit"] == ["yes"]
    assert onion["Service"]["SupplementaryGroups"] == ["debian-tor"]


# --- the apps' journal (P4) ------------------------------------------------------------


def journald_settings() -> dict[str, list[str]]:
    sections = parse_unit(JOURNALD_CONF)
    assert set(sections) == {"Journal"}
    assert all(len(values) == 1 for values in sections["Journal"].values())
    return sections["Journal"]


def test_apps_log_into_the_journal_namespace_provision_configures() -> None:
    constants = provision_constants()
    namespace = constants["LOG_NAMESPACE"]
    assert namespace == "sdlite"
    for name in ("sdlite-source", "sdlite-journalist"):
        assert service(name)["LogNamespace"] == [namespace]
    assert JOURNALD_CONF.name == f"journald@{namespace}.conf"
    assert constants["JOURNALD_CONF"] == f"/etc/systemd/journald@{namespace}.conf"
    assert (
        '"$SRC_DIR/deploy/journald@$LOG_NAMESPACE.conf" "$JOURNALD_CONF"' in PROVISION.read_text()
    )


def test_the_apps_journal_stays_in_ram_for_about_a_day() -> None:
    settings = journald_settings()
    # A namespace's journald stores on disk unless told otherwise.
    assert settings["Storage"] == ["volatile"]
    assert settings["RuntimeMaxUse"] == ["16M"]
    assert settings["MaxRetentionSec"] == ["1day"]
    # Retention deletes whole archived files: rotate often enough for it to bite.
    assert settings["MaxFileSec"] == ["1h"]
    for forward in ("ForwardToSyslog", "ForwardToKMsg", "ForwardToConsole", "ForwardToWall"):
        assert settings[forward] == ["no"], forward
    text = JOURNALD_CONF.read_text()
    assert "journalctl --namespace=sdlite" in text
    assert "P4" in text


def test_journald_knows_every_setting_and_time_span() -> None:
    candidates = (Path("/usr/lib/systemd/systemd-journald"), Path("/lib/systemd/systemd-journald"))
    journald = next((p for p in candidates if p.is_file()), None)
    if journald is None or shutil.which("systemd-analyze") is None:
        missing("systemd-journald", "systemd")
    # journald only logs a warning for a key it does not know: look each one up in
    # its own table of settings.
    table = journald.read_bytes()
    settings = journald_settings()
    for key in settings:
        assert f"\0Journal.{key}\0".encode() in table, key
    spans = [settings["MaxRetentionSec"][0], settings["MaxFileSec"][0]]
    done = subprocess.run(
        ["systemd-analyze", "timespan", *spans], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    microseconds = [int(value) for value in re.findall(r"μs: (\d+)", done.stdout)]
    assert microseconds == [86_400_000_000, 3_600_000_000]


@pytest.fixture(scope="module")
def unit_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file system root holding the units, systemd's own units and stub executables."""
    if shutil.which("systemd-analyze") is None:
        missing("systemd-analyze", "systemd")
    # Debian's systemd package ships its units in /lib/systemd/system (/usr/lib/... on
    # a merged /usr, as every Debian 12 is): the targets, and the journald sockets that
    # LogNamespace= needs.
    system_units = next(
        (p for p in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")) if p.is_dir()),
        None,
    )
    if system_units is None:
        missing("/usr/lib/systemd/system", "systemd")
    root = tmp_path_factory.mktemp("unit-root")
    shutil.copytree(system_units, root / "usr/lib/systemd/system", symlinks=True)
    for template in ("systemd-journald@.socket", "systemd-journald-varlink@.socket"):
        if not (root / "usr/lib/systemd/system" / template).is_file():
            missing(f"{system_units}/{template} (for LogNamespace=)", "systemd")
    (root / "etc/systemd/system").mkdir(parents=True)
    for path in UNIT_FILES:
        shutil.copy(path, root / "etc/systemd/system" / path.name)
        for section in parse_unit(path).values():
            for key, values in section.items():
                if key.startswith("Exec"):
                    for value in values:
                        stub = root / value.split()[0].lstrip("-@:+!").lstrip("/")
                        stub.parent.mkdir(parents=True, exist_ok=True)
                        stub.write_text("#!/bin/sh\nexit 0\n")
                        stub.chmod(0o755)
    return root


def test_units_pass_systemd_analyze_verify(unit_root: Path) -> None:
    units = [str(unit_root / "etc/systemd/system" / p.name) for p in UNIT_FILES]
    done = subprocess.run(
        ["systemd-analyze", "verify", f"--root={unit_root}", *units],
        capture_output=True,
        text=True,
        timeout=120,
    )
    # Unknown or misspelt keys are only warnings: any output at all is a failure.
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


@pytest.mark.parametrize("path", [p for p in UNIT_FILES if p.suffix == ".service"], ids=str)
def test_services_have_a_low_systemd_exposure_score(unit_root: Path, path: Path) -> None:
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", f"--root={unit_root}",
         str(unit_root / "etc/systemd/system" / path.name)],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    if "--offline" in done.stderr:
        # Debian 12 has systemd 252.
        pytest.fail("systemd-analyze has no --offline (systemd < 250): install Debian 12's systemd")
    score = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout)
    assert score is not None, done.stdout + done.stderr
    assert float(score[1]) <= 2.0, done.stdout


# --- tor/torrc ------------------------------------------------------------------------


def torrc_options(*, commented: bool) -> list[tuple[str, str]]:
    """The torrc's active options; with commented, also the commented-out alternatives."""
    options = []
    for line in TORRC.read_text().splitlines():
        if commented and (match := re.fullmatch(r"# ([A-Z]\w+) (.*)", line)):
            options.append((match[1], match[2]))
        elif line and not line.startswith("#"):
            name, _, value = line.partition(" ")
            options.append((name, value.strip()))
    return options


def test_torrc_listens_on_nothing_but_loopback_and_unix_sockets() -> None:
    for name, value in torrc_options(commented=True):
        address = value.split()[0]
        if name == "HiddenServicePort":
            target = value.split()[1]
            assert target.rpartition(":")[0] == "127.0.0.1", f"{name} {value}"
        elif name.endswith("Port"):
            assert address == "0" or address.startswith(("unix:", "127.0.0.1:")), f"{name} {value}"


def test_torrc_is_a_production_client_that_hosts_onion_services() -> None:
    options = dict(torrc_options(commented=False))
    assert options["SocksPort"] == "0"
    assert options["ORPort"] == "0"
    assert options["DirPort"] == "0"
    assert options["ClientOnly"] == "1"
    assert options["SafeLogging"] == "1"
    assert options["DataDirectory"] == "/var/lib/tor"
    assert options["CookieAuthentication"] == "1"
    # The unit starts tor as debian-tor: a User line would make it fail to switch user.
    assert "User" not in options
    everything = {name for name, _ in torrc_options(commented=True)}
    for forbidden in ("TestingTorNetwork", "DirAuthority", "AlternateDirAuthority", "Sandbox"):
        assert forbidden not in everything, forbidden


def test_torrc_control_socket_is_the_one_provision_configures() -> None:
    options = dict(torrc_options(commented=False))
    socket = provision_constants()["TOR_CONTROL"]
    assert socket == "unix:/run/tor/control"
    assert options["ControlPort"].split()[0] == socket
    # The unit's RuntimeDirectory holds the socket and the cookie.
    assert options["CookieAuthFile"].startswith("/run/tor/")
    assert service("sdlite-tor")["RuntimeDirectory"] == ["tor"]


def test_torrc_says_never_to_start_it_on_a_development_machine() -> None:
    assert "NEVER START THIS TOR ON A DEVELOPMENT MACHINE" in TORRC.read_text()


# --- shell scripts --------------------------------------------------------------------


def test_there_are_shell_scripts_to_check() -> None:
    assert PROVISION in SHELL_SCRIPTS
    assert STAGING_KEY in SHELL_SCRIPTS


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: p.name)
def test_shell_script_passes_shellcheck(script: Path) -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        missing("shellcheck", "shellcheck")
    done = subprocess.run(
        [shellcheck, "--shell=bash", "--external-sources", str(script)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: p.name)
def test_shell_script_parses_and_is_executable(script: Path) -> None:
    done = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert script.stat().st_mode & stat.S_IXUSR
    assert script.read_text().startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in script.read_text()


# --- provision.sh --dry-run -----------------------------------------------------------


@pytest.fixture
def stub_bin(tmp_path: Path) -> Path:
    """A PATH folder whose commands refuse to change the system, and log any call."""
    stubs = tmp_path / "stub-bin"
    stubs.mkdir()
    log = tmp_path / "refused.log"
    for command in REFUSED_COMMANDS:
        (stubs / command).write_text(
            f'#!/bin/sh\necho "{command} $*" >> "{log}"\necho "stub: refused: {command}" >&2\n'
            "exit 97\n"
        )
    # Questions are fine (and answered "no"); anything else is refused.
    (stubs / "systemctl").write_text(
        "#!/bin/sh\ncase $1 in is-active|is-enabled) exit 1;; esac\n"
        f'echo "systemctl $*" >> "{log}"\nexit 97\n'
    )
    for path in stubs.iterdir():
        path.chmod(0o755)
    return stubs


def refused_calls(stub_bin: Path) -> str:
    log = stub_bin.parent / "refused.log"
    return log.read_text() if log.exists() else ""


@pytest.fixture
def os_release(tmp_path: Path) -> Path:
    path = tmp_path / "os-release"
    path.write_text('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n')
    return path


@pytest.fixture
def armored_public_key(tmp_path: Path) -> Path:
    """Enough for provision.sh's own check; a dry run never imports it."""
    path = tmp_path / "ombuds-public-key.asc"
    path.write_text("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n-----END PGP PUBLIC KEY BLOCK-----\n")
    return path


def new_config(data_dir: Path, text: str | None = None) -> Path:
    data_dir.mkdir(mode=0o700, exist_ok=True)
    path = data_dir / "sdlite.toml"
    path.write_text(text if text is not None else render_new_config("A" * 40, "Test Office"))
    path.chmod(0o600)
    return path


def dry_run(
    stub_bin: Path, os_release: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run provision.sh --dry-run; a real run never happens in the test suite."""
    path = os.pathsep.join([str(stub_bin), str(Path(sys.executable).parent), os.environ["PATH"]])
    return subprocess.run(
        ["bash", str(PROVISION), "--dry-run", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": path,
            "HOME": str(stub_bin.parent),
            "TMPDIR": str(stub_bin.parent),
            "SDLITE_PROVISION_OS_RELEASE": str(os_release),
            **(env or {}),
        },
    )


def edited_copy(stdout: str) -> Path:
    match = re.search(r"dry run: edited a copy, not \S+: (\S+)$", stdout, re.M)
    assert match is not None, stdout
    return Path(match[1])


def test_dry_run_prints_the_plan_and_changes_nothing(
    tmp_path: Path, stub_bin: Path, os_release: Path, armored_public_key: Path
) -> None:
    data_dir = tmp_path / "data"
    done = dry_run(
        stub_bin, os_release, "--submission-key", str(armored_public_key),
        "--data-dir", str(data_dir), "--organization", "Test Office",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    for planned in (
        "DRY RUN: nothing is changed",
        "would run: systemctl mask tor.service tor@default.service",
        "--no-install-recommends tor python3-venv gnupg",
        "/opt/securedrop-lite/venv/bin/pip --disable-pip-version-check --no-input install",
        "/etc/securedrop-lite/torrc",
        "/etc/systemd/system/sdlite-onion.service",
        f"sdlite init --data-dir {data_dir} --submission-key",
        "--organization Test\\ Office",
        'would add tor_control = "unix:/run/tor/control"',
        "would leave onion_pow = true in",
        f"would run: runuser -u sdlite -- {SDLITE_BIN} init --data-dir {data_dir}",
        f"{AS_TOR_CLIENT} {SDLITE_BIN} user add NAME --admin",
        f"{AS_TOR_CLIENT} {SDLITE_BIN} onion status",
        "deploy/journald@sdlite.conf /etc/systemd/journald@sdlite.conf",
        "would run: systemctl try-restart systemd-journald@sdlite.service",
        "journalctl --namespace=sdlite",
        "would run: systemctl enable sdlite-tor.service sdlite-source.service "
        "sdlite-journalist.service sdlite-onion.service sdlite-purge.timer",
        "user add NAME --admin",
    ):
        assert planned in done.stdout
    assert "sudo -u sdlite /" not in done.stdout
    assert "gpasswd" not in done.stdout  # the user sdlite is in no group here
    assert refused_calls(stub_bin) == ""
    assert not data_dir.exists()


def test_dry_run_sets_tor_control_on_a_copy_above_secrets(
    tmp_path: Path, stub_bin: Path, os_release: Path, armored_public_key: Path
) -> None:
    config = new_config(tmp_path / "data")
    original = config.read_bytes()
    done = dry_run(
        stub_bin, os_release, "--submission-key", str(armored_public_key),
        "--data-dir", str(config.parent),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "initialized already" in done.stdout
    copy = edited_copy(done.stdout)
    assert copy.parent == tmp_path
    assert config.read_bytes() == original
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    text = copy.read_text()
    assert text.index('tor_control = "unix:/run/tor/control"') < text.index("\n[secrets]\n")
    before, after = tomllib.loads(original.decode()), tomllib.loads(text)
    assert after == {**before, "tor_control": "unix:/run/tor/control"}
    assert refused_calls(stub_bin) == ""


def test_dry_run_adds_tor_control_to_a_config_without_it(
    tmp_path: Path, stub_bin: Path, os_release: Path, armored_public_key: Path
) -> None:
    rendered = render_new_config("B" * 40, "Older Office")
    older = "".join(
        line for line in rendered.splitlines(keepends=True) if not line.startswith("tor_control")
    )
    config = new_config(tmp_path / "data", older)
    done = dry_run(
        stub_bin, os_release, "--submission-key", str(armored_public_key),
        "--data-dir", str(config.parent),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    text = edited_copy(done.stdout).read_text()
    assert text.count("tor_control =") == 1
    assert text.index('tor_control = "unix:/run/tor/control"') < text.index("\n[secrets]\n")
    after = tomllib.loads(text)
    assert after == {**tomllib.loads(older), "tor_control": "unix:/run/tor/control"}
    assert set(after["secrets"]) == {"pepper_id", "pepper_key", "secret_key"}


def test_dry_run_leaves_a_chosen_control_port_alone(
    tmp_path: Path, stub_bin: Path, os_release: Path, armored_public_key: Path
) -> None:
    chosen = render_new_config("C" * 40, "Office").replace(
        'tor_control = ""', 'tor_control = "127.0.0.1:9051"'
    )
    config = new_config(tmp_path / "data", chosen)
    done = dry_run(
        stub_bin, os_release, "--submission-key", str(armored_public_key),
        "--data-dir", str(config.parent),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "tor_control is set in" in done.stdout
    assert edited_copy(done.stdout).read_text() == chosen


def test_dry_run_adds_onion_pow_to_a_config_without_it(
    tmp_path: Path, stub_bin: Path, os_release: Path, armored_public_key: Path
) -> None:
    rendered = render_new_config("D" * 40, "Office")
    older = "".join(
        line for line in rendered.splitlines(keepends=True) if not line.startswith("onion_pow")
    )
    assert older != rendered
    config = new_config(tmp_path / "data", older)
    done = dry_run(
        stub_bin, os_release, "--submission-key", str(armored_public_key),
        "--data-dir", str(config.parent),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    text = edited_copy(done.stdout).read_text()
    assert text.count("onion_pow =") == 1
    assert text.index("onion_pow = true") < text.index("\n[secrets]\n")
    after = tomllib.loads(text)
    expected = {**tomllib.loads(older), "tor_control": "unix:/run/tor/control", "onion_pow": True}
    assert after == expected
    assert config.read_text() == older
    assert refused_calls(stub_bin) == ""


@pytest.mark.parametrize("chosen", ["false", "true"])
def test_dry_run_leaves_a_chosen_onion_pow_alone(
    tmp_path: Path, stub_bin: Path, os_release: Path, armored_public_key: Path, chosen: str
) -> None:
    text = render_new_config("E" * 40, "Office").replace(
        "onion_pow = true", f"onion_pow = {chosen}"
    )
    config = new_config(tmp_path / "data", text)
    done = dry_run(
        stub_bin, os_release, "--submission-key", str(armored_public_key),
        "--data-dir", str(config.parent),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"onion_pow = {chosen} in " in done.stdout
    assert "left as it is" in done.stdout
    after = tomllib.loads(edited_copy(done.stdout).read_text())
    assert after["onion_pow"] is (chosen == "true")


@pytest.mark.parametrize("written", ["true", "false", None], ids=["true", "false", "absent"])
def test_config_edit_adds_onion_pow_only_where_it_is_absent(
    tmp_path: Path, stub_bin: Path, written: str | None
) -> None:
    """The real run's edit, on a file: an older sdlite.toml may lack onion_pow."""
    rendered = render_new_config("F" * 40, "Office")
    if written is None:
        rendered = "\n".join(
            line for line in rendered.splitlines() if not line.startswith("onion_pow")
        )
    else:
        rendered = rendered.replace("onion_pow = true", f"onion_pow = {written}")
    config = new_config(tmp_path / "data", rendered)
    path = os.pathsep.join([str(stub_bin), str(Path(sys.executable).parent), os.environ["PATH"]])
    done = subprocess.run(
        ["bash", "-c", 'source "$1" && edit_config "$2"', "test", str(PROVISION), str(config)],
        capture_output=True, text=True, timeout=60,
        env={"PATH": path, "HOME": str(tmp_path), "TMPDIR": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "==>" not in done.stdout  # sourced: main did not run
    text = config.read_text()
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert sorted(p.name for p in config.parent.iterdir()) == ["sdlite.toml"]
    after = tomllib.loads(text)
    expected = {**tomllib.loads(rendered), "tor_control": "unix:/run/tor/control"}
    assert after == {**expected, "onion_pow": written != "false"}
    assert text.count("onion_pow =") == 1
    assert text.index("onion_pow =") < text.index("\n[secrets]\n")
    assert refused_calls(stub_bin) == ""


def sourced(
    tmp_path: Path, stub_bin: Path, script: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """Run bash code with provision.sh's functions defined (main does not run): $1 is it."""
    path = os.pathsep.join([str(stub_bin), str(Path(sys.executable).parent), os.environ["PATH"]])
    return subprocess.run(
        ["bash", "-c", f'source "$1" && {script}', "test", str(PROVISION), *args],
        capture_output=True, text=True, timeout=60,
        env={"PATH": path, "HOME": str(tmp_path), "TMPDIR": str(tmp_path)},
    )  # fmt: skip


def passing_runuser(stub_bin: Path) -> Path:
    """Replace the refusing runuser stub: log the arguments, run what follows --."""
    log = stub_bin.parent / "runuser.log"
    (stub_bin / "runuser").write_text(
        f'#!/bin/sh\nfor arg; do printf "[%s]" "$arg"; done >> "{log}"\necho >> "{log}"\n'
        'while [ "$#" -gt 0 ] && [ "$1" != -- ]; do shift; done\nshift\nexec "$@"\n'
    )
    return log


def runuser_calls(log: Path) -> list[list[str]]:
    lines = log.read_text().splitlines() if log.exists() else []
    return [line[1:-1].split("][") for line in lines]


def test_real_config_edit_runs_as_the_service_user(tmp_path: Path, stub_bin: Path) -> None:
    """Root never makes, chmods or renames a file in the directory the service user owns."""
    config = new_config(tmp_path / "data")
    log = passing_runuser(stub_bin)
    done = sourced(
        tmp_path, stub_bin,
        'DRY_RUN=0; DATA_DIR=$2; INSTALLED_SCRIPT=$1; configure_instance', str(config.parent),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert runuser_calls(log) == [
        ["-u", "sdlite", "--", "bash", "-c", 'source "$1" && edit_config "$2"',
         "sdlite-provision", str(PROVISION), str(config)],
    ]  # fmt: skip
    after = tomllib.loads(config.read_text())
    assert after["tor_control"] == "unix:/run/tor/control"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert sorted(p.name for p in config.parent.iterdir()) == [CONFIG_FILE_NAME]
    assert refused_calls(stub_bin) == ""  # no chown, no install


def test_real_config_edit_is_never_done_by_root_itself(tmp_path: Path, stub_bin: Path) -> None:
    config = new_config(tmp_path / "data")
    original = config.read_bytes()
    done = sourced(
        tmp_path, stub_bin,
        'DRY_RUN=0; DATA_DIR=$2; INSTALLED_SCRIPT=$1; configure_instance', str(config.parent),
    )  # fmt: skip
    # The runuser stub refuses: nothing else may make the edit instead.
    assert done.returncode != 0
    assert refused_calls(stub_bin).startswith("runuser -u sdlite -- bash -c ")
    assert config.read_bytes() == original
    assert sorted(p.name for p in config.parent.iterdir()) == [CONFIG_FILE_NAME]


def test_config_edit_refuses_a_symlinked_config(tmp_path: Path, stub_bin: Path) -> None:
    target = new_config(tmp_path / "elsewhere", render_new_config("G" * 40, "Office"))
    original = target.read_bytes()
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / CONFIG_FILE_NAME).symlink_to(target)
    done = sourced(tmp_path, stub_bin, 'edit_config "$2"', str(data_dir / CONFIG_FILE_NAME))
    assert done.returncode != 0
    assert "is not a regular file" in done.stderr
    assert target.read_bytes() == original
    assert sorted(p.name for p in data_dir.iterdir()) == [CONFIG_FILE_NAME]


def test_dry_run_does_not_follow_a_symlinked_config(
    tmp_path: Path, stub_bin: Path, os_release: Path, armored_public_key: Path
) -> None:
    target = new_config(tmp_path / "elsewhere")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / CONFIG_FILE_NAME).symlink_to(target)
    done = dry_run(
        stub_bin, os_release, "--submission-key", str(armored_public_key),
        "--data-dir", str(data_dir),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "is a symbolic link: a real run would refuse to edit it" in done.stdout
    assert "dry run: edited a copy" not in done.stdout


def test_status_runs_sdlite_with_tors_group_for_that_command_only(
    tmp_path: Path, stub_bin: Path
) -> None:
    log = passing_runuser(stub_bin)
    (stub_bin / "sdlite").write_text("#!/bin/sh\nexit 0\n")
    (stub_bin / "sdlite").chmod(0o755)
    done = sourced(tmp_path, stub_bin, "DRY_RUN=0; print_status")
    assert done.returncode == 0, done.stdout + done.stderr
    # runuser's -G adds a supplementary group; -g keeps sdlite the primary group.
    assert runuser_calls(log) == [
        [*AS_TOR_CLIENT.split()[1:], SDLITE_BIN, "onion", "status",
         "--data-dir", "/var/lib/securedrop-lite"],
    ]  # fmt: skip


def test_runuser_takes_a_primary_and_a_supplementary_group() -> None:
    """The flags AS_TOR_CLIENT uses, as Debian 12's util-linux runuser spells them."""
    runuser = shutil.which("runuser")
    if runuser is None:
        missing("runuser", "util-linux")
    done = subprocess.run([runuser, "--help"], capture_output=True, text=True, timeout=30)
    assert re.search(r"^ -g, --group <group> ", done.stdout, re.M), done.stdout
    assert re.search(r"^ -G, --supp-group <group> ", done.stdout, re.M), done.stdout
    assert "readonly AS_TOR_CLIENT=(runuser -u " in PROVISION.read_text()


def test_provision_never_puts_the_service_user_in_tors_group() -> None:
    text = PROVISION.read_text()
    assert not re.search(r"^\s*run (adduser|usermod|gpasswd -a)\b.*TOR_GROUP", text, re.M)
    assert 'run gpasswd -d "$SERVICE_USER" "$TOR_GROUP"' in text


def test_dry_run_takes_the_service_user_out_of_tors_group(
    tmp_path: Path, stub_bin: Path, os_release: Path, armored_public_key: Path
) -> None:
    """An older provision.sh added sdlite to debian-tor: a run undoes it."""
    real_getent = shutil.which("getent")
    assert real_getent is not None
    (stub_bin / "getent").write_text(
        '#!/bin/sh\nif [ "$1 $2" = "group debian-tor" ]; then\n'
        "  echo debian-tor:x:109:someone,sdlite\nelse\n"
        f'  exec {real_getent} "$@"\nfi\n'
    )
    (stub_bin / "getent").chmod(0o755)
    done = dry_run(
        stub_bin, os_release, "--submission-key", str(armored_public_key),
        "--data-dir", str(tmp_path / "d"),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "would run: gpasswd -d sdlite debian-tor" in done.stdout
    assert refused_calls(stub_bin) == ""


@pytest.mark.parametrize(
    ("members", "listed"),
    [("", False), ("sdlite-admin", False), ("xsdlite,sdliteX", False), ("sdlite", True),
     ("someone,sdlite", True), ("sdlite,someone", True)],
)  # fmt: skip
def test_group_lists_matches_whole_names(
    tmp_path: Path, stub_bin: Path, members: str, listed: bool
) -> None:
    (stub_bin / "getent").write_text(f"#!/bin/sh\necho debian-tor:x:109:{members}\n")
    (stub_bin / "getent").chmod(0o755)
    done = sourced(tmp_path, stub_bin, "group_lists sdlite debian-tor")
    assert done.returncode == (0 if listed else 1), done.stdout + done.stderr


def test_provision_refuses_a_missing_key(tmp_path: Path, stub_bin: Path, os_release: Path) -> None:
    done = dry_run(stub_bin, os_release, "--submission-key", str(tmp_path / "nope.asc"))
    assert done.returncode != 0
    assert "cannot read the submission key" in done.stderr
    assert "would run" not in done.stdout


def test_provision_refuses_a_private_key(tmp_path: Path, stub_bin: Path, os_release: Path) -> None:
    key = tmp_path / "secret.asc"
    key.write_text("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n-----END PGP PRIVATE KEY BLOCK-----\n")
    done = dry_run(stub_bin, os_release, "--submission-key", str(key))
    assert done.returncode != 0
    assert "PRIVATE key" in done.stderr
    assert "would run" not in done.stdout


def test_provision_refuses_another_system_unless_forced(
    tmp_path: Path, stub_bin: Path, armored_public_key: Path
) -> None:
    ubuntu = tmp_path / "os-release-ubuntu"
    ubuntu.write_text('ID=ubuntu\nVERSION_ID="24.04"\n')
    args = ("--submission-key", str(armored_public_key), "--data-dir", str(tmp_path / "d"))
    refused = dry_run(stub_bin, ubuntu, *args)
    assert refused.returncode != 0
    assert "not Debian 12 (add --force-os" in refused.stderr
    forced = dry_run(stub_bin, ubuntu, *args, "--force-os")
    assert forced.returncode == 0, forced.stderr
    assert "WARNING: this is ubuntu 24.04" in forced.stdout


def test_dry_run_as_another_user_says_a_real_run_would_stop(
    tmp_path: Path, stub_bin: Path, os_release: Path, armored_public_key: Path
) -> None:
    real_id = shutil.which("id")
    assert real_id is not None
    (stub_bin / "id").write_text(
        f'#!/bin/sh\nif [ "$1" = -u ]; then echo 1000; else exec {real_id} "$@"; fi\n'
    )
    (stub_bin / "id").chmod(0o755)
    done = dry_run(
        stub_bin, os_release, "--submission-key", str(armored_public_key),
        "--data-dir", str(tmp_path / "d"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "not root; a real run would stop here" in done.stdout


# --- the staging VM -------------------------------------------------------------------


def test_staging_key_is_a_usable_submission_key(tmp_path: Path, stub_bin: Path) -> None:
    home = tmp_path / "staging-airgap"
    env = {"PATH": f"{stub_bin}{os.pathsep}{os.environ['PATH']}", "HOME": str(tmp_path)}
    fingerprints = []
    for _ in range(2):  # a second run reuses the key
        done = subprocess.run(
            ["bash", str(STAGING_KEY), str(home)],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        fingerprints.append(re.findall(r"STAGING ONLY key ([0-9A-F]{40})", done.stdout))
    assert fingerprints[0] == fingerprints[1]
    assert len(fingerprints[0]) == 1
    public = (home / "staging-public-key.asc").read_bytes()
    server_home = tmp_path / "server-gnupg"
    server_home.mkdir(mode=0o700)
    fingerprint = import_public_key(server_home, public)
    assert fingerprint == fingerprints[0][0]
    SubmissionKey(server_home, fingerprint).check(datetime.now(UTC))
    assert refused_calls(stub_bin) == ""


def vagrant_code() -> str:
    return "\n".join(
        line for line in (REPO / "Vagrantfile").read_text().splitlines()
        if not line.lstrip().startswith("#")
    )  # fmt: skip


def test_vagrantfile_forwards_no_port_and_provisions_like_a_server() -> None:
    code = vagrant_code()
    assert "forwarded_port" not in code
    assert 'config.vm.box = "debian/bookworm64"' in code
    assert code.count("memory = 2048") == 2
    assert "deploy/staging-key.sh" in code
    assert "deploy/provision.sh --source-dir /vagrant" in code
    assert "--submission-key #{STAGING_AIRGAP}/staging-public-key.asc" in code


def without_network(command: list[str]) -> list[str]:
    """Return command run in an empty network namespace, if this machine allows one."""
    if shutil.which("unshare") is None:
        missing("unshare", "util-linux")
    for unshare in (["unshare", "--net"], ["unshare", "--user", "--map-root-user", "--net"]):
        if subprocess.run([*unshare, "true"], capture_output=True, timeout=30).returncode == 0:
            return [*unshare, *command]
    return command


def test_vagrantfile_validates_offline(tmp_path: Path) -> None:
    vagrant = shutil.which("vagrant")
    if vagrant is None:
        missing("vagrant", "vagrant")
    # No network: no version checkpoint, no box update check, and, where the kernel lets
    # us, a network namespace with no interface at all. Nothing is written to the repo.
    dotdir_existed = (REPO / ".vagrant").exists()
    done = subprocess.run(
        without_network([vagrant, "validate"]),
        capture_output=True,
        text=True,
        timeout=300,
        env={
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path / "home"),
            "VAGRANT_HOME": str(tmp_path / "vagrant.d"),
            "VAGRANT_DOTFILE_PATH": str(tmp_path / "dotfile"),
            "VAGRANT_CWD": str(REPO),
            "VAGRANT_CHECKPOINT_DISABLE": "1",
            "VAGRANT_BOX_UPDATE_CHECK_DISABLE": "1",
        },
    )
    if "No usable default provider" in done.stdout + done.stderr:
        # Debian has no VirtualBox: the libvirt provider is the one the Vagrantfile can use.
        missing("vagrant's libvirt provider", "vagrant-libvirt")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "validated successfully" in done.stdout
    assert (REPO / ".vagrant").exists() == dotdir_existed
