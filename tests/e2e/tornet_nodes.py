"""The nodes of tornet's private Tor network: torrcs, the torrc safety check, consensus checks.

Nothing may ever reach the public Tor network: every torrc passes check_torrc_safe() right
before its tor starts. /work/shared/reference/tornet/README.md has the measured pitfalls
behind the options below. Use this through tests/e2e/tornet.py.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import stem
import stem.connection
from stem.control import BaseController, Controller

AUTHORITIES = ("a0", "a1", "a2")
RELAYS = ("r0", "r1")  # onion-service paths need at least 4 relays, authorities included
HS = "hs"
RELAY_FLAGS = frozenset({"Fast", "Guard", "Running", "Stable", "Valid"})
# Every start is a cold start: only these survive in a node's directory.
KEEP = frozenset({"keys", "fingerprint", "fingerprint-ed25519", "torrc", "keygen.torrc"})


class TorNetError(Exception):
    """The private network failed to start or to do what was asked."""


class UnsafeTorrc(TorNetError):
    """A torrc could let tor reach something outside 127.0.0.0/8."""


# ------------------------------------------------------------------------------- safety
_FORBIDDEN = frozenset(
    [
        "fallbackdir",
        "bridge",
        "usebridges",
        "dirserver",
        "alternatedirauthority",
        "alternatebridgeauthority",
        "clienttransportplugin",
        "servertransportplugin",
        "httpproxy",
        "httpsproxy",
        "socks4proxy",
        "socks5proxy",
        "tcpproxy",
    ]
)
_REQUIRED = {"testingtornetwork": "1", "clientuseipv6": "0", "usedefaultfallbackdirs": "0"}
_KEYWORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # also rules out tor's "+Key" and "/Key"
_IPV4 = re.compile(r"(?<![\d.])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\d.])")
_IPV6 = re.compile(r"\[|::|\b[0-9a-f]{1,4}:[0-9a-f]{1,4}:", re.IGNORECASE)
_LISTENER = re.compile(r"0|127\.0\.0\.1:\d{1,5}")
_HS_TARGET = re.compile(r"\d{1,5}|127\.0\.0\.1:\d{1,5}")
_DIR_AUTHORITY = re.compile(
    r"(?:[A-Za-z0-9]{1,19} )?(?:(?:orport=\d{1,5}|no-v2|v3ident=[0-9A-F]{40}) )*"
    r"127\.0\.0\.1:\d{1,5} [0-9A-F]{40}"
)


def _directives(text: str) -> list[tuple[str, str]]:
    """Parse a torrc like tor does, as (lower-case keyword, value); refuse what we cannot read."""
    if re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text):
        raise UnsafeTorrc("control characters (other than tab and newline) are not allowed")
    found = []
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.split("#", 1)[0].strip()
        if raw.rstrip().endswith("\\") or line.endswith("\\"):
            raise UnsafeTorrc(f"line {number}: continuation lines are not allowed")
        if not line:
            continue
        keyword, value = [*re.split(r"\s+", line, maxsplit=1), ""][:2]
        if keyword.lower() == "%include":
            raise UnsafeTorrc(f"line {number}: %include is not allowed")
        if not _KEYWORD.fullmatch(keyword) or '"' in value:
            raise UnsafeTorrc(f"line {number}: cannot check {line!r}")
        found.append((keyword.lower(), value.strip()))
    return found


def _check_directive(keyword: str, value: str) -> None:
    """Refuse one directive that could reach, or listen on, anything but 127.0.0.1."""
    line = f"{keyword} {value}"
    first, last = (value.split() or [""])[0], (value.split() or [""])[-1]
    if keyword in _FORBIDDEN or keyword.endswith(("listenaddress", "bindaddress")):
        raise UnsafeTorrc(f"{keyword} is not allowed: {line!r}")
    is_listener = keyword.endswith("port") and keyword != "hiddenserviceport"
    if is_listener and not _LISTENER.fullmatch(first):
        raise UnsafeTorrc(f"a listener must be 0 or 127.0.0.1:<port>: {line!r}")
    if keyword == "hiddenserviceport" and not _HS_TARGET.fullmatch(last):
        raise UnsafeTorrc(f"an onion service may only forward to 127.0.0.1: {line!r}")
    if keyword == "address" and not re.fullmatch(r"127\.\d{1,3}\.\d{1,3}\.\d{1,3}", value):
        raise UnsafeTorrc(f"{keyword} must be a 127.x address, never a name: {line!r}")
    if any(not ip.startswith("127.") for ip in _IPV4.findall(value)):
        raise UnsafeTorrc(f"non-loopback IPv4 address: {line!r}")
    if _IPV6.search(value) or "ipv6=" in value.lower():
        raise UnsafeTorrc(f"IPv6 address: {line!r}")


def check_torrc_safe(text: str) -> None:
    """Raise UnsafeTorrc unless this torrc keeps tor inside 127.0.0.0/8 and off the public net."""
    directives = _directives(text)
    for keyword, value in directives:
        _check_directive(keyword, value)
    for keyword, wanted in _REQUIRED.items():
        values = [v for k, v in directives if k == keyword]
        if not values or any(v != wanted for v in values):
            raise UnsafeTorrc(f"the torrc must say '{keyword} {wanted}' (found {values})")
    authorities = [v for k, v in directives if k == "dirauthority"]
    if not authorities:
        raise UnsafeTorrc("no DirAuthority line: tor would use the public authorities")
    for value in authorities:
        if not _DIR_AUTHORITY.fullmatch(value):
            raise UnsafeTorrc(f"DirAuthority not on 127.0.0.1 or not understood: {value!r}")
    switches = [v for k, v in directives if k == "disablenetwork"]
    if switches not in (["0"], ["1"]):
        raise UnsafeTorrc(f"exactly one 'DisableNetwork 0|1' line is required (found {switches})")
    if switches == ["0"] and directives[-1] != ("disablenetwork", "0"):
        raise UnsafeTorrc("'DisableNetwork 0' must be the last line")


# -------------------------------------------------------------------------------- nodes
@dataclass
class TorNode:
    """One tor of the network; ports are picked when the network starts."""

    name: str
    data_dir: Path
    torrc: Path
    control_port: int = 0
    socks_port: int | None = None  # clients only
    pid: int | None = None
    or_port: int | None = None  # authorities and relays only
    dir_port: int | None = None  # authorities only

    @property
    def cookie_path(self) -> Path:
        """The control-port authentication cookie tor writes at start."""
        return self.data_dir / "control_auth_cookie"

    @property
    def notice_log(self) -> Path:
        """Tor's notice-level log for this start."""
        return self.data_dir / "notice.log"

    @property
    def onion_auth_dir(self) -> Path:
        """A client's ClientOnionAuthDir, for <name>.auth_private files."""
        return self.data_dir / "onion_auth"

    def controller(self) -> Controller:
        """Return a stem controller, connected and cookie-authenticated; the caller closes it."""
        # stem leaks its socket (a ResourceWarning) when the connect fails, so probe first.
        try:
            socket.create_connection(("127.0.0.1", self.control_port), timeout=5).close()
        except OSError as exc:
            raise TorNetError(f"{self.name}: no control port ({exc})\n{tail(self)}") from exc
        with warnings.catch_warnings():
            # stem 1.8.2 calls Thread.setDaemon(), deprecated since Python 3.10.
            warnings.filterwarnings("ignore", "setDaemon", DeprecationWarning)
            ctl = Controller.from_port("127.0.0.1", self.control_port)
        try:
            stem.connection.authenticate_cookie(ctl, str(self.cookie_path))
        except BaseException:
            ctl.close()
            raise
        # Not Controller.authenticate(): it sends TAKEOWNERSHIP whenever the torrc's
        # __OwningControllerProcess is this process, and tor then exits when this
        # connection closes. The base class only marks the connection authenticated
        # (without which stem never subscribes to events, e.g. for await_publication).
        BaseController._post_authentication(ctl)
        return ctl


def tail(node: TorNode, lines: int = 15) -> str:
    """The last lines of a node's notice.log (or its stdout, if tor died before logging)."""
    parts = []
    for log in (node.data_dir / "stdout.log", node.notice_log):
        if log.exists():
            text = log.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {log} (last {len(text)} lines)\n" + "\n".join(text))
    return "\n".join(parts) or f"--- no log in {node.data_dir}"


def consensus_flags(text: str) -> tuple[datetime | None, dict[str, set[str]]]:
    """Return a consensus's valid-after time and each router's flags, by nickname."""
    valid_after: datetime | None = None
    flags: dict[str, set[str]] = {}
    current = ""
    for line in text.splitlines():
        if line.startswith("valid-after "):
            stamp = datetime.strptime(line[12:].strip(), "%Y-%m-%d %H:%M:%S")
            valid_after = stamp.replace(tzinfo=UTC)
        elif line.startswith("r "):
            current = line.split()[1]
            flags[current] = set()
        elif line.startswith("s ") and current:
            flags[current] = set(line.split()[1:])
    return valid_after, flags


def consensus_complete(text: str, since: float) -> bool:
    """True if this consensus is newer than since and usable for onion services."""
    valid_after, flags = consensus_flags(text)
    if valid_after is None or valid_after.timestamp() < int(since):
        return False  # left over from an earlier start
    if set(flags) != set(AUTHORITIES + RELAYS):
        return False
    if any(not f >= RELAY_FLAGS for f in flags.values()):
        return False
    return all("HSDir" in flags[a] for a in AUTHORITIES)


def wipe_state(node: TorNode) -> None:
    """Delete everything but the keys, so each start is a cold start with the same identities."""
    for entry in node.data_dir.iterdir():
        if entry.name in KEEP:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


# ------------------------------------------------------------------------------- torrcs
def common_lines(node: TorNode) -> list[str]:
    """Lines every tor of the network gets."""
    return [
        "# private test network on 127.0.0.1: must never talk to the public Tor network",
        "TestingTorNetwork 1",
        "ClientUseIPv6 0",
        "UseDefaultFallbackDirs 0",
        f"DataDirectory {node.data_dir}",
        f"Log notice file {node.notice_log}",
        "SafeLogging 0",
        "LogTimeGranularity 1",
        "ShutdownWaitLength 0",
        f"ControlPort 127.0.0.1:{node.control_port}",
        f"ControlPortWriteToFile {node.data_dir / 'control.port'}",  # "listener is open"
        "CookieAuthentication 1",
        # no GeoIP parsing: it costs ~1 s of CPU and ~30 MiB per tor
        "GeoIPFile /dev/null",
        "GeoIPv6File /dev/null",
        "PathsNeededToBuildCircuits 0.67",
        # every tor exits by itself if the test process dies: within ~15 s by this,
        # at once after PrivateTorNetwork takes ownership (see _take_ownership)
        f"__OwningControllerProcess {os.getpid()}",
    ]


def relay_lines(node: TorNode) -> list[str]:
    """Lines for authorities and relays: non-exit relays on 127.0.0.1."""
    lines = [
        f"Nickname {node.name}",
        f"ORPort 127.0.0.1:{node.or_port}",
        "Address 127.0.0.1",
        "SocksPort 0",
        "ExitRelay 0",
        "ExitPolicy reject *:*",
        "AssumeReachable 1",
    ]
    if node.dir_port is None:
        # A fresh directory cache answers 404 and the asking tor backs off for 10 s or
        # more; plain relays are therefore no caches (nor HSDirs), only the authorities.
        lines.append("DirCache 0")
    return lines


def authority_lines(node: TorNode, hsdirs: str) -> list[str]:
    """Lines for a directory authority: the fastest voting tor allows, flags forced."""
    return [
        f"DirPort 127.0.0.1:{node.dir_port}",
        "AuthoritativeDirectory 1",
        "V3AuthoritativeDirectory 1",
        f"ContactInfo {node.name}@tornet.invalid",
        "TestingV3AuthInitialVotingInterval 5",  # 5, 2, 2 and 10 are tor's minimums
        "TestingV3AuthInitialVoteDelay 2",
        "TestingV3AuthInitialDistDelay 2",
        "V3AuthVotingInterval 10",
        "V3AuthVoteDelay 2",
        "V3AuthDistDelay 2",
        "V3AuthNIntervalsValid 2",
        # a young, tiny network would not earn these flags: onion paths need them
        "TestingDirAuthVoteGuard *",
        f"TestingDirAuthVoteHSDir {hsdirs}",
        "TestingMinExitFlagThreshold 0",
        "AuthDirVoteStableGuaranteeMinUptime 0",
        "AuthDirVoteStableGuaranteeMTBF 0",
        "AuthDirFastGuarantee 1",
        # a consensus every 10 s: without this, diffing makes CPU and memory grow
        "MaxConsensusAgeForDiffs 1 minute",
    ]


def keygen_torrc(node: TorNode) -> str:
    """The torrc for `tor --list-fingerprint`: network off, a placeholder loopback authority."""
    zeros = "0" * 40
    return "\n".join(
        [
            "TestingTorNetwork 1",
            "ClientUseIPv6 0",
            "UseDefaultFallbackDirs 0",
            f"DirAuthority placeholder orport=1 no-v2 v3ident={zeros} 127.0.0.1:1 {zeros}",
            f"DataDirectory {node.data_dir}",
            f"Nickname {node.name}",
            "ORPort 127.0.0.1:1",  # never bound: only makes tor create relay keys
            "Address 127.0.0.1",
            "SocksPort 0",
            "ControlPort 0",
            "Log err stderr",
            "DisableNetwork 1",
            "",
        ]
    )


def identity(node: TorNode) -> str:
    """The relay identity fingerprint written by `tor --list-fingerprint`."""
    return (node.data_dir / "fingerprint").read_text().split()[1]


def v3ident(node: TorNode) -> str:
    """The authority's v3 identity: the fingerprint line of its certificate."""
    cert = (node.data_dir / "keys" / "authority_certificate").read_text()
    found = re.search(r"^fingerprint ([0-9A-F]{40})$", cert, re.MULTILINE)
    if found is None:
        raise TorNetError(f"no fingerprint in {node.name}'s authority certificate")
    return found.group(1)


def bootstrapped(ctl: Controller) -> bool:
    """True once this tor reports bootstrap PROGRESS=100 (False if it cannot answer)."""
    try:
        phase = ctl.get_info("status/bootstrap-phase")
    except stem.ControllerError:
        return False  # a tor that died is reported by the caller's liveness check
    found = re.search(r"PROGRESS=(\d+)", phase)
    return found is not None and int(found.group(1)) == 100


def dir_authority_line(node: TorNode) -> str:
    """The DirAuthority line every tor gets for this authority."""
    return (
        f"DirAuthority {node.name} orport={node.or_port} no-v2 v3ident={v3ident(node)} "
        f"127.0.0.1:{node.dir_port} {identity(node)}"
    )


def node_torrc(node: TorNode, dir_authorities: Sequence[str], hsdirs: str) -> str:
    """A node's whole torrc; 'DisableNetwork 0' comes last, after the DirAuthority lines."""
    lines = common_lines(node)
    if node.or_port is not None:
        lines += relay_lines(node)
    if node.dir_port is not None:
        lines += authority_lines(node, hsdirs)
    if node.socks_port is not None:
        lines.append(f"SocksPort 127.0.0.1:{node.socks_port} ExtendedErrors")
        lines.append(f"ClientOnionAuthDir {node.onion_auth_dir}")
    elif node.or_port is None:
        lines.append("SocksPort 0")  # the onion-service tor: services come later, by ADD_ONION
    return "\n".join([*lines, *dir_authorities, "DisableNetwork 0", ""])
