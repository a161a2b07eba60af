"""The source's side: where a POST goes (a route), the signup, and the timed 10 MiB POST.

A route is either an onion address reached through the client tor's SOCKS port, with the
client tor resolving the name (socks5h), or the server's loopback port. The POST body is
the ingest benchmark's hand-built multipart, streamed from disk in 1 MiB sends.
"""

from __future__ import annotations

import http.client
import re
import socket
from dataclasses import dataclass
from pathlib import Path

import requests
import socks  # type: ignore[import-untyped]  # PySocks, which requests[socks] uses too

from bench.common import BenchError, csrf_token
from bench.ingest.upload import timed_post

TIMEOUT = 600.0  # a 10 MiB body over a private Tor network on a busy 2-core machine
_CODENAME = re.compile(r'<p class="codename" id="codename">([^<]+)</p>')


@dataclass(frozen=True)
class Route:
    """Where a POST goes: the host it names, and the client tor's SOCKS port if through Tor."""

    host: str  # an onion address, or 127.0.0.1:<port>
    socks_port: int | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}"

    @property
    def service_id(self) -> str | None:
        """The onion address without .onion (as tor names the service), or None."""
        return self.host.removesuffix(".onion") if self.host.endswith(".onion") else None

    def session(self) -> requests.Session:
        """A requests session that takes this route (socks5h: tor resolves the .onion)."""
        session = requests.Session()
        # A new connection for each page: over Tor, requests sometimes reused a connection
        # the server had already closed as idle (gunicorn keeps one alive for 2 s).
        session.headers["Connection"] = "close"
        if self.socks_port is not None:
            proxy = f"socks5h://127.0.0.1:{self.socks_port}"
            session.proxies = {"http": proxy, "https": proxy}
        return session

    def connect(self) -> http.client.HTTPConnection:
        """Open the TCP connection (and the SOCKS handshake, if any) before anything is timed."""
        name, _, port = self.host.partition(":")
        address = (name, int(port or 80))
        connection = http.client.HTTPConnection(*address, timeout=TIMEOUT)
        if self.socks_port is None:
            connection.connect()  # http.client sets TCP_NODELAY itself
            return connection
        sock = socks.create_connection(
            address,
            timeout=TIMEOUT,
            proxy_type=socks.SOCKS5,
            proxy_addr="127.0.0.1",
            proxy_port=self.socks_port,
            proxy_rdns=True,  # the onion name goes to tor as is, never to a resolver
        )
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as http.client does
        connection.sock = sock
        return connection


def sign_up(route: Route) -> requests.Session:
    """Consent, take a codename and create the source, through route; return the session."""
    browser = route.session()
    base = route.base_url

    def post(path: str, data: dict[str, str]) -> None:
        response = browser.post(base + path, data=data, allow_redirects=False, timeout=TIMEOUT)
        if response.status_code != 302:
            raise BenchError(f"{path} answered {response.status_code} through {base}")

    consent = browser.get(base + "/consent", timeout=TIMEOUT, allow_redirects=False).text
    post("/consent", {"csrf_token": csrf_token(consent), "next": "generate"})
    page = browser.get(base + "/generate", timeout=TIMEOUT, allow_redirects=False).text
    if not _CODENAME.search(page):
        raise BenchError(f"no codename on /generate through {base}")
    post("/create", {"csrf_token": csrf_token(page)})
    return browser


def lookup_page(route: Route, browser: requests.Session) -> str:
    """GET /lookup, the page with the submission form, as the source would before submitting."""
    page = browser.get(route.base_url + "/lookup", timeout=TIMEOUT, allow_redirects=False)
    if page.status_code != 200:
        raise BenchError(f"/lookup answered {page.status_code} through {route.base_url}")
    return page.text


@dataclass
class Posted:
    """One timed POST: first request byte to the whole answer."""

    seconds: float
    send_seconds: float  # first request byte to the last body byte handed to the socket
    client_cpu_seconds: float
    status: int
    location: str
    body_bytes: int  # what Content-Length announced
    received_bytes: int | None  # what the bare sink says it read (the server does not say)


def post_file(
    connection: http.client.HTTPConnection, cookie: str, token: str, path: Path
) -> Posted:
    """POST /submit with path as `fh` over an open connection; time it; close the connection."""
    sent, response = timed_post(connection, cookie, token, path)
    received = response.getheader("X-Received-Bytes")
    return Posted(
        seconds=sent.seconds,
        send_seconds=sent.send_seconds,
        client_cpu_seconds=sent.client_cpu_seconds,
        status=sent.status,
        location=sent.location,
        body_bytes=sent.body_bytes,
        received_bytes=int(received) if received is not None else None,
    )


def cookie_header(browser: requests.Session) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
