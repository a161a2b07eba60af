"""check_torrc_safe() refuses every torrc that could reach beyond 127.0.0.1; no tor is started."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e import tornet
from tests.e2e.tornet import PrivateTorNetwork, TorNetError, UnsafeTorrc, check_torrc_safe
from tests.e2e.tornet_nodes import AUTHORITIES, RELAYS, consensus_complete, keygen_torrc

FP = "A" * 40
AUTHORITY = f"DirAuthority a0 orport=5000 no-v2 v3ident={'B' * 40} 127.0.0.1:5001 {FP}"
SAFE = [
    "TestingTorNetwork 1",
    "ClientUseIPv6 0",
    "UseDefaultFallbackDirs 0",
    "SocksPort 127.0.0.1:9050 ExtendedErrors",
    "ControlPort 127.0.0.1:9051",
    AUTHORITY,
    "DisableNetwork 0",
]


def torrc(*extra: str, drop: tuple[str, ...] = ()) -> str:
    """The safe torrc without the lines in drop, with extra lines inserted near the top."""
    kept = [line for line in SAFE if line not in drop]
    return "\n".join([kept[0], *extra, *kept[1:], ""])


def test_the_minimal_torrc_is_safe() -> None:
    check_torrc_safe(torrc())


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param(
            torrc(drop=("TestingTorNetwork 1",)),
            "testingtornetwork 1",
            id="missing TestingTorNetwork",
        ),
        pytest.param(
            torrc("TestingTorNetwork 0", drop=("TestingTorNetwork 1",)),
            "testingtornetwork 1",
            id="TestingTorNetwork 0",
        ),
        pytest.param(
            torrc("testingtornetwork 0"),
            "testingtornetwork 1",
            id="a second, lower-case TestingTorNetwork 0",
        ),
        pytest.param(
            torrc(drop=("ClientUseIPv6 0",)), "clientuseipv6 0", id="missing ClientUseIPv6 0"
        ),
        pytest.param(torrc("ClientUseIPv6 1"), "clientuseipv6 0", id="ClientUseIPv6 1"),
        pytest.param(
            torrc(drop=("UseDefaultFallbackDirs 0",)),
            "usedefaultfallbackdirs 0",
            id="missing UseDefaultFallbackDirs 0",
        ),
        pytest.param(
            torrc(drop=(AUTHORITY,)),
            "no DirAuthority",
            id="missing DirAuthority: tor uses the public ones",
        ),
        pytest.param(
            torrc(f"DirAuthority moria1 orport=9101 128.31.0.39:9131 {FP}"),
            "non-loopback",
            id="public authority",
        ),
        pytest.param(
            torrc(f"DirAuthority x ipv6=[::1]:9 127.0.0.1:5001 {FP}"),
            "IPv6",
            id="DirAuthority ipv6=",
        ),
        pytest.param(
            torrc("DirAuthority 127.0.0.1:5001"),
            "DirAuthority not on",
            id="DirAuthority without fingerprint",
        ),
        pytest.param(
            torrc("SocksPort 0.0.0.0:9050"), "listener", id="SocksPort on every interface"
        ),
        pytest.param(torrc("SocksPort 9050"), "listener", id="SocksPort without an address"),
        pytest.param(torrc("ControlPort 9051"), "listener", id="ControlPort without an address"),
        pytest.param(
            torrc("ORPort 9001"), "listener", id="ORPort without an address (binds IPv6 too)"
        ),
        pytest.param(torrc("ORPort 10.0.0.1:9001"), "listener", id="ORPort on a private address"),
        pytest.param(
            torrc("DirPort 127.0.0.2:9030"), "listener", id="DirPort on another loopback address"
        ),
        pytest.param(torrc("ORPort [::1]:9001"), "listener", id="ORPort on IPv6"),
        pytest.param(torrc("DNSPort 53"), "listener", id="DNSPort"),
        pytest.param(torrc("__SocksPort 0.0.0.0:9"), "listener", id="hidden listener option"),
        pytest.param(torrc("MetricsPort unix:/tmp/m"), "listener", id="unix socket listener"),
        pytest.param(
            torrc("HiddenServicePort 80 192.168.1.5:80"),
            "forward to 127",
            id="onion service forwarding off-host",
        ),
        pytest.param(torrc("Address 2001:db8::1"), "127.x address", id="IPv6 address"),
        pytest.param(
            torrc("Address relay.example.org"),
            "127.x address",
            id="Address as a name: a DNS lookup",
        ),
        pytest.param(
            torrc("ReachableAddresses accept 8.8.8.8"),
            "non-loopback",
            id="public IPv4 in any option",
        ),
        pytest.param(
            torrc("ExitPolicy accept [fe80::1]:*"), "IPv6 address", id="IPv6 in any option"
        ),
        pytest.param(
            torrc("FallbackDir 127.0.0.1:9030 orport=9001 id=" + FP),
            "is not allowed",
            id="FallbackDir",
        ),
        pytest.param(torrc("Bridge 127.0.0.1:9001"), "is not allowed", id="Bridge"),
        pytest.param(torrc("UseBridges 1"), "is not allowed", id="UseBridges"),
        pytest.param(
            torrc(f"AlternateDirAuthority 127.0.0.1:1 {FP}"),
            "is not allowed",
            id="AlternateDirAuthority",
        ),
        pytest.param(
            torrc(f"DirServer 127.0.0.1:1 {FP}"),
            "is not allowed",
            id="DirServer, the old DirAuthority",
        ),
        pytest.param(torrc("Socks5Proxy 127.0.0.1:1080"), "is not allowed", id="an upstream proxy"),
        pytest.param(
            torrc("ClientTransportPlugin obfs4 exec /usr/bin/obfs4proxy"),
            "is not allowed",
            id="a transport plugin",
        ),
        pytest.param(
            torrc("OutboundBindAddress 127.0.0.1"), "is not allowed", id="OutboundBindAddress"
        ),
        pytest.param(torrc("%include /etc/tor/torrc.d"), "%include", id="%include"),
        pytest.param(torrc("%INCLUDE /etc/tor/torrc.d"), "%include", id="%include, upper case"),
        pytest.param(torrc("/DirAuthority"), "cannot check", id="tor's clear-this-option prefix"),
        pytest.param(torrc("+SocksPort 127.0.0.1:9052"), "cannot check", id="tor's append prefix"),
        pytest.param(
            torrc("Nickname x \\", "ContactInfo y"), "continuation", id="a continuation line"
        ),
        pytest.param(torrc('DataDirectory "/tmp/x"'), "cannot check", id="a quoted value"),
        pytest.param(
            torrc("Nickname x\rContactInfo y"), "control characters", id="a carriage return"
        ),
        pytest.param(
            torrc(drop=("DisableNetwork 0",)),
            "exactly one 'DisableNetwork",
            id="missing DisableNetwork",
        ),
        pytest.param(
            torrc("DisableNetwork 0"),
            "exactly one 'DisableNetwork",
            id="DisableNetwork 0 twice, the first not last",
        ),
        pytest.param(
            torrc("DisableNetwork 1"), "exactly one 'DisableNetwork", id="DisableNetwork 1 and 0"
        ),
        pytest.param(
            torrc() + "Nickname late\n", "must be the last line", id="a line after DisableNetwork 0"
        ),
        pytest.param(
            torrc() + AUTHORITY + "\n",
            "must be the last line",
            id="DirAuthority after DisableNetwork 0",
        ),
        pytest.param(
            torrc(drop=("DisableNetwork 0",)) + "DisableNetwork 2\n",
            "exactly one 'DisableNetwork",
            id="DisableNetwork 2",
        ),
    ],
)
def test_unsafe_torrcs_are_refused(text: str, reason: str) -> None:
    with pytest.raises(UnsafeTorrc, match=re.escape(reason)):
        check_torrc_safe(text)


def test_unsafe_torrc_is_a_tornet_error() -> None:
    assert issubclass(UnsafeTorrc, TorNetError)


def test_comments_and_blank_lines_are_ignored() -> None:
    check_torrc_safe("# FallbackDir 8.8.8.8:9030\n\n" + torrc("Nickname x  # 1.2.3.4"))


def test_disable_network_1_may_come_anywhere() -> None:
    text = torrc(drop=("DisableNetwork 0",)).replace(SAFE[0], f"{SAFE[0]}\nDisableNetwork 1")
    check_torrc_safe(text)


def fake_keys(base: Path) -> None:
    """Write the key files the torrcs are built from, as tor-gencert and tor would."""
    for index, name in enumerate(AUTHORITIES + RELAYS):
        node = base / name
        (node / "keys").mkdir(parents=True)
        (node / "fingerprint").write_text(f"{name} {str(index) * 40}\n")
        if name in AUTHORITIES:
            cert = f"dir-key-certificate-version 3\nfingerprint {'F' * 39}{index}\n"
            (node / "keys" / "authority_certificate").write_text(cert)


def test_the_generated_torrcs_are_safe(tmp_path: Path) -> None:
    fake_keys(tmp_path)
    net = PrivateTorNetwork(tmp_path, clients=("c0", "c1"))
    net._assign_ports()  # what start() does before writing the torrcs, without any tor
    torrcs = net._torrcs()
    assert sorted(torrcs) == sorted(node.name for node in net.nodes)
    for text in torrcs.values():
        check_torrc_safe(text)
        assert text.rstrip().splitlines()[-1] == "DisableNetwork 0"
        assert "__OwningControllerProcess " in text
    for node in net.nodes:
        check_torrc_safe(keygen_torrc(node))
    assert "SocksPort 0" in torrcs["hs"]
    assert "HiddenServiceDir" not in torrcs["hs"]
    assert f"SocksPort 127.0.0.1:{net.client('c1').socks_port} ExtendedErrors" in torrcs["c1"]
    assert "DirCache 0" in torrcs["r0"]
    assert "DirCache 0" not in torrcs["a0"]


def test_ports_are_distinct_loopback_ports(tmp_path: Path) -> None:
    net = PrivateTorNetwork(tmp_path, clients=("c0", "c1", "c2"))
    net._assign_ports()
    ports = [
        port
        for node in net.nodes
        for port in (node.control_port, node.socks_port, node.or_port, node.dir_port)
        if port is not None
    ]
    assert len(ports) == len(set(ports)) == 9 + 5 + 3 + 3  # control, OR, Dir, SOCKS
    assert net.socks_url("c2") == f"socks5h://127.0.0.1:{net.client('c2').socks_port}"


@pytest.mark.parametrize("clients", [("hs",), ("a0",), ("c0", "c0"), ("C0",), ("c-0",)])
def test_bad_client_names_are_refused(tmp_path: Path, clients: tuple[str, ...]) -> None:
    with pytest.raises(TorNetError):
        PrivateTorNetwork(tmp_path, clients=clients)


def test_a_missing_tor_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tornet.shutil, "which", lambda *args, **kwargs: None)
    with pytest.raises(TorNetError, match="Debian's tor package"):
        PrivateTorNetwork(tmp_path).start()


def consensus(valid_after: str, flags: dict[str, str]) -> str:
    """A microdesc consensus reduced to what consensus_complete() reads."""
    routers = [
        f"r {name} AAAA 2026-01-01 00:00:00 127.0.0.1 1 0\ns {f}" for name, f in flags.items()
    ]
    return "\n".join([f"valid-after {valid_after}", *routers, ""])


ALL_FLAGS = "Fast Guard Running Stable Valid"
COMPLETE = {
    name: ALL_FLAGS + (" HSDir" if name in AUTHORITIES else "") for name in AUTHORITIES + RELAYS
}
SINCE = 1_800_000_000.5  # 2027-01-15 08:00:00.5 UTC


def test_a_fresh_complete_consensus_is_ready() -> None:
    assert consensus_complete(consensus("2027-01-15 08:00:10", COMPLETE), SINCE)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(consensus("2027-01-15 07:59:50", COMPLETE), id="older than this start"),
        pytest.param(
            consensus("2027-01-15 08:00:10", {**COMPLETE, "r1": "Fast Guard Running Valid"}),
            id="a relay not Stable",
        ),
        pytest.param(
            consensus("2027-01-15 08:00:10", {**COMPLETE, "a2": ALL_FLAGS}),
            id="an authority not HSDir",
        ),
        pytest.param(
            consensus("2027-01-15 08:00:10", {k: v for k, v in COMPLETE.items() if k != "r0"}),
            id="a relay missing",
        ),
        pytest.param("", id="empty"),
    ],
)
def test_an_incomplete_consensus_is_not_ready(text: str) -> None:
    assert not consensus_complete(text, SINCE)
