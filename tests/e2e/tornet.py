"""A private Tor network on 127.0.0.1 for end-to-end tests: 3 authorities, 2 relays, hs, clients.

    with PrivateTorNetwork(tmp_path, clients=("c0", "c1")) as net:
        with net.hs.controller() as ctl:  # ADD_ONION here
            ...
        requests.get(url, proxies={"http": net.socks_url("c0")})

Every tor runs in the foreground as a child of this process, with a torrc that passed
check_torrc_safe() just before; stop() ends each one by its PID. The torrcs, the safety
check and the consensus check live in tornet_nodes.py.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

from stem import Signal
from stem.control import Controller

from tests.e2e.tornet_nodes import (
    AUTHORITIES,
    HS,
    RELAYS,
    TorNetError,
    TorNode,
    UnsafeTorrc,
    bootstrapped,
    check_torrc_safe,
    consensus_complete,
    dir_authority_line,
    identity,
    keygen_torrc,
    node_torrc,
    tail,
    wipe_state,
)

__all__ = [
    "PrivateTorNetwork",
    "TorNetError",
    "TorNode",
    "UnsafeTorrc",
    "check_torrc_safe",
]

STOP_GRACE = 5.0  # tor 0.4.9.11 sometimes never exits on SIGTERM: SIGKILL after this
NEWNYM_INTERVAL = 10.0  # tor honours at most one NEWNYM per 10 s
KEYGEN_TIMEOUT = 60.0
POLL = 0.2
_CLIENT_NAME = re.compile(r"[a-z][a-z0-9]{0,18}")
INSTALL_HINT = "install Debian's tor package (apt-get install tor), which has both"


def find_binary(name: str) -> str:
    """Return the path of tor or tor-gencert (Debian's /usr/sbin is often not in PATH)."""
    path = shutil.which(name, path=f"{os.environ.get('PATH', '')}:/usr/sbin:/usr/bin")
    if path is None:
        raise TorNetError(f"{name} is not installed: {INSTALL_HINT}")
    return path


def free_ports(count: int) -> list[int]:
    """Return distinct free TCP ports on 127.0.0.1 (all held open until all are chosen)."""
    # Linux gives bind(0) odd ports and connect() even ones, so the tors' own outgoing
    # connections do not take these ports between now and the moment they are bound.
    held: list[socket.socket] = []
    try:
        for _ in range(count):
            held.append(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            held[-1].bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in held]
    finally:
        for s in held:
            s.close()


def control_ready(node: TorNode) -> bool:
    """True once the node's control port is open and its cookie written."""
    return (node.data_dir / "control.port").exists() and node.cookie_path.exists()


def runs_torrc(pid: int, torrc: Path) -> bool:
    """True if process pid is alive and was started with this torrc (not a zombie or a reuse)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return os.fsencode(torrc) in args


class PrivateTorNetwork:
    """3 authorities + 2 relays, then an onion-service tor ("hs") and client tors."""

    def __init__(self, base_dir: Path, clients: Sequence[str] = ("c0",)) -> None:
        """Lay out the nodes under base_dir; nothing starts until start()."""
        self.base_dir = Path(base_dir).absolute()
        if re.search(r'[\s#"\\]', str(self.base_dir)):
            raise TorNetError(f"tor cannot use this directory in a torrc: {self.base_dir}")
        taken = set(AUTHORITIES + RELAYS + (HS,))
        for name in clients:
            if not _CLIENT_NAME.fullmatch(name) or name in taken:
                raise TorNetError(f"bad or repeated client name: {name!r}")
            taken.add(name)
        self._nodes = {name: self._node(name) for name in AUTHORITIES + RELAYS + (HS,)}
        self._clients = {name: self._node(name) for name in clients}
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._owners: dict[str, Controller] = {}  # see _take_ownership
        self._last_newnym: dict[str, float] = {}
        self.timings: dict[str, float] = {}
        self.killed: list[str] = []  # tors that needed SIGKILL (a known tor 0.4.9.11 hang)

    def _node(self, name: str) -> TorNode:
        data_dir = self.base_dir / name
        return TorNode(name=name, data_dir=data_dir, torrc=data_dir / "torrc")

    @property
    def hs(self) -> TorNode:
        """The onion-service tor: no services until someone sends ADD_ONION."""
        return self._nodes[HS]

    @property
    def nodes(self) -> list[TorNode]:
        """Every tor of the network, clients last."""
        return [*self._nodes.values(), *self._clients.values()]

    def client(self, name: str) -> TorNode:
        """The client tor called name."""
        if name not in self._clients:
            raise TorNetError(f"no client {name!r}; clients are {sorted(self._clients)}")
        return self._clients[name]

    def socks_url(self, client: str) -> str:
        """The proxy URL for requests; socks5h so the client tor resolves .onion itself."""
        return f"socks5h://127.0.0.1:{self.client(client).socks_port}"

    # ---------------------------------------------------------------------------- start
    def start(self, timeout: float = 180.0) -> None:
        """Start the whole network; return when hs and every client are bootstrapped."""
        if self._procs:
            raise TorNetError("this network is already running")
        began = time.monotonic()
        deadline = began + timeout
        self.timings, self.killed = {}, []
        try:
            tor, gencert = find_binary("tor"), find_binary("tor-gencert")
            self._prepare(tor, gencert, deadline)
            self.timings["keys"] = time.monotonic() - began
            since = time.time()
            relays = [self._nodes[name] for name in AUTHORITIES + RELAYS]
            self._launch(tor, relays, deadline)
            # Tors started before a complete consensus exists back off for 10-60 s.
            authorities = relays[: len(AUTHORITIES)]
            self._wait("a complete consensus on every authority", authorities, deadline,
                       lambda: self._consensus_ready(since))  # fmt: skip
            self.timings["consensus"] = time.monotonic() - began
            users = [self.hs, *self._clients.values()]
            self._launch(tor, users, deadline)
            self._wait("hs and the clients to bootstrap", users, deadline,
                       lambda: all(bootstrapped(self._owners[n.name]) for n in users))  # fmt: skip
            self.timings["ready"] = time.monotonic() - began
        except BaseException:
            self.stop()
            raise

    def _prepare(self, tor: str, gencert: str, deadline: float) -> None:
        """Pick ports, make keys (once per base_dir), wipe old state, write the torrcs."""
        self._assign_ports()
        for node in self.nodes:
            node.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            node.data_dir.chmod(0o700)  # tor refuses a data directory others can read
            wipe_state(node)
        relays = [self._nodes[name] for name in AUTHORITIES + RELAYS]
        self._make_keys(tor, gencert, relays, min(deadline, time.monotonic() + KEYGEN_TIMEOUT))
        for name, text in self._torrcs().items():
            self._by_name(name).torrc.write_text(text)
        for node in self._clients.values():
            node.onion_auth_dir.mkdir(mode=0o700)

    def _assign_ports(self) -> None:
        """Give every node fresh free ports on 127.0.0.1."""
        relays = [self._nodes[name] for name in AUTHORITIES + RELAYS]
        count = len(self.nodes) + len(relays) + len(AUTHORITIES) + len(self._clients)
        ports = iter(free_ports(count))
        for node in self.nodes:
            node.control_port = next(ports)
        for node in relays:
            node.or_port = next(ports)
        for name in AUTHORITIES:
            self._nodes[name].dir_port = next(ports)
        for node in self._clients.values():
            node.socks_port = next(ports)

    def _torrcs(self) -> dict[str, str]:
        """Every node's torrc, by name (needs the ports and the keys)."""
        authorities = [self._nodes[name] for name in AUTHORITIES]
        lines = [dir_authority_line(node) for node in authorities]
        # Only the authorities are directory caches, so only they may be HSDirs.
        hsdirs = ",".join(f"${identity(node)}" for node in authorities)
        return {node.name: node_torrc(node, lines, hsdirs) for node in self.nodes}

    def _make_keys(self, tor: str, gencert: str, relays: list[TorNode], deadline: float) -> None:
        """Create missing relay identities and authority certificates, all in parallel."""
        jobs: list[tuple[TorNode, subprocess.Popen[bytes]]] = []
        try:
            for node in relays:
                jobs += self._keygen_jobs(tor, gencert, node)
            for node, proc in jobs:
                remaining = max(0.1, deadline - time.monotonic())
                if proc.wait(timeout=remaining) != 0:
                    log = (node.data_dir / "keygen.log").read_text(errors="replace")
                    raise TorNetError(f"key generation failed for {node.name}:\n{log[-2000:]}")
        except subprocess.TimeoutExpired as exc:
            raise TorNetError(f"key generation took longer than {exc.timeout:.0f} s") from exc
        finally:
            for _, proc in jobs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()

    def _keygen_jobs(
        self, tor: str, gencert: str, node: TorNode
    ) -> list[tuple[TorNode, subprocess.Popen[bytes]]]:
        """Start the key generators this node still needs."""
        jobs = []
        keys = node.data_dir / "keys"
        if node.name in AUTHORITIES and not (keys / "authority_certificate").exists():
            keys.mkdir(mode=0o700, exist_ok=True)
            names = ("authority_identity_key", "authority_signing_key", "authority_certificate")
            for name in names:
                (keys / name).unlink(missing_ok=True)  # half-made by an interrupted start
            args = [gencert, "--create-identity-key", "--passphrase-fd", "0", "-m", "12"]
            for flag, name in zip(("-i", "-s", "-c"), names, strict=True):
                args += [flag, str(keys / name)]
            jobs.append((node, self._spawn(args, node, "keygen.log", passphrase=b"\n")))
        if not (node.data_dir / "fingerprint").exists():
            torrc = node.data_dir / "keygen.torrc"
            torrc.write_text(keygen_torrc(node))
            check_torrc_safe(torrc.read_text())
            args = [tor, "--defaults-torrc", "/dev/null", "-f", str(torrc), "--list-fingerprint"]
            jobs.append((node, self._spawn(args, node, "keygen.log")))
        return jobs

    @staticmethod
    def _spawn(
        args: list[str], node: TorNode, log_name: str, passphrase: bytes | None = None
    ) -> subprocess.Popen[bytes]:
        """Run args in the background, appending its output to the node's log_name."""
        with (node.data_dir / log_name).open("ab") as log:
            proc = subprocess.Popen(  # an argument list from this module, never a shell
                args,
                stdin=subprocess.DEVNULL if passphrase is None else subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C reaches pytest only; stop() ends the tors
            )
        if proc.stdin is not None:
            with proc.stdin:  # the empty passphrase tor-gencert reads from fd 0
                proc.stdin.write(passphrase or b"")
        return proc

    def _launch(self, tor: str, nodes: list[TorNode], deadline: float) -> None:
        """Start each node's tor (torrc checked first), then hold its owning control connection."""
        for node in nodes:
            check_torrc_safe(node.torrc.read_text())
            args = [tor, "--defaults-torrc", "/dev/null", "-f", str(node.torrc)]
            self._procs[node.name] = self._spawn(args, node, "stdout.log")
            node.pid = self._procs[node.name].pid
        # tor writes ControlPortWriteToFile once its control listener is open, the cookie
        # a moment later.
        self._wait("the control ports", nodes, deadline,
                   lambda: all(control_ready(n) for n in nodes))  # fmt: skip
        for node in nodes:
            self._owners[node.name] = self._take_ownership(node)

    @staticmethod
    def _take_ownership(node: TorNode) -> Controller:
        """Open the connection whose closing makes this tor exit (TAKEOWNERSHIP)."""
        # stem's authenticate() does this by itself in any connection from this process
        # while the torrc's __OwningControllerProcess names it, so a short-lived check
        # would take the tor down with it. One long-lived owner, then the option
        # cleared, lets any later controller (ours or the product's) come and go; if
        # this process dies, the kernel closes the owner and the tor exits at once.
        ctl = node.controller()
        try:
            if not ctl.msg("TAKEOWNERSHIP").is_ok():
                raise TorNetError(f"{node.name} refused TAKEOWNERSHIP")
            ctl.reset_conf("__OwningControllerProcess")
        except BaseException:
            ctl.close()
            raise
        return ctl

    def _wait(
        self, what: str, blame: Sequence[TorNode], deadline: float, done: Callable[[], bool]
    ) -> None:
        """Poll done() until it is true; fail if a tor dies or the deadline passes."""
        while True:
            for name, proc in self._procs.items():
                if proc.poll() is not None:
                    node = self._by_name(name)
                    raise TorNetError(f"tor {name} exited ({proc.returncode})\n{tail(node)}")
            if done():
                return
            if time.monotonic() > deadline:
                logs = "\n".join(tail(node) for node in blame)
                raise TorNetError(f"timed out waiting for {what}\n{logs}")
            time.sleep(POLL)

    def _by_name(self, name: str) -> TorNode:
        return self._nodes.get(name) or self._clients[name]

    def _consensus_ready(self, since: float) -> bool:
        """True if every authority serves a complete consensus made after since."""
        # One authority sometimes misses a round and serves an older, smaller consensus.
        for name in AUTHORITIES:
            path = self._nodes[name].data_dir / "cached-microdesc-consensus"
            if not path.exists() or not consensus_complete(path.read_text(), since):
                return False
        return True

    # ------------------------------------------------------------------------ stop
    def stop(self) -> None:
        """SIGTERM every tor this network started, SIGKILL it after STOP_GRACE; idempotent."""
        for name, proc in self._procs.items():
            self._signal(name, proc, signal.SIGTERM)
        for ctl in self._owners.values():
            ctl.close()  # the tor exits on this too (TAKEOWNERSHIP)
        self._owners.clear()
        grace_end = time.monotonic() + STOP_GRACE
        for name, proc in list(self._procs.items()):
            try:
                proc.wait(timeout=max(0.0, grace_end - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._signal(name, proc, signal.SIGKILL)
                self.killed.append(name)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    continue  # kept, so a later stop() tries again
            del self._procs[name]
            self._by_name(name).pid = None
        if self._procs:
            raise TorNetError(f"tors still running after SIGKILL: {sorted(self._procs)}")

    def _signal(self, name: str, proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        """Signal proc only if it is alive and still runs this node's torrc."""
        # The PID comes from Popen, never from tor's PidFile (deleted when shutdown begins).
        if proc.poll() is None and runs_torrc(proc.pid, self._by_name(name).torrc):
            os.kill(proc.pid, sig)

    def __enter__(self) -> PrivateTorNetwork:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ clients
    def add_client_auth(self, client: str, file_name: str, line: str) -> None:
        """Give a client a v3 client-auth key file, then make its tor load it (RELOAD)."""
        node = self.client(client)
        if "/" in file_name or file_name.startswith(".") or not file_name.endswith(".auth_private"):
            raise TorNetError(f"a client auth file is <name>.auth_private: {file_name!r}")
        address = line.split(":", 1)[0]
        if "\n" in line.strip() or not re.fullmatch(r"[a-z2-7]{56}", address):
            raise TorNetError(f"expected <56-char address>:descriptor:x25519:<key>: {line!r}")
        path = node.onion_auth_dir / file_name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with open(fd, "w") as out:
            os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
            out.write(line.strip() + "\n")
        check_torrc_safe(node.torrc.read_text())  # RELOAD re-reads the torrc too
        with node.controller() as ctl:
            ctl.signal(Signal.RELOAD)
            # tor acts on the signal after replying OK: wait until the key is loaded.
            end = time.monotonic() + 10
            while "CLIENT " not in str(ctl.msg(f"ONION_CLIENT_AUTH_VIEW {address}")):
                if time.monotonic() > end:
                    raise TorNetError(f"{client} did not load {file_name}\n{tail(node)}")
                time.sleep(0.05)
            # The reload read __OwningControllerProcess back from the torrc: clear it again.
            ctl.reset_conf("__OwningControllerProcess")

    def new_identity(self, client: str) -> None:
        """Send NEWNYM to a client (clean circuits, onion caches purged), rate limit waited out."""
        node = self.client(client)
        wait = self._last_newnym.get(client, float("-inf")) + NEWNYM_INTERVAL - time.monotonic()
        if wait > 0:
            time.sleep(wait)  # tor would delay it anyway; wait so it is done on return
        with node.controller() as ctl:
            ctl.signal(Signal.NEWNYM)
        self._last_newnym[client] = time.monotonic()
