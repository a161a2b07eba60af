"""The Host allowlist: each app answers only for its own onion address and for loopback.

A request that names any other host is refused before anything else runs: the request
did not come through our onion service or from this machine (DNS rebinding, a
misrouted proxy, a scanner that found the loopback port through some other path).
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, request
from werkzeug.exceptions import BadRequest
from werkzeug.sansio.utils import host_is_trusted

# Werkzeug cannot match IPv6 literals; the apps bind 127.0.0.1, where tor forwards.
LOOPBACK_NAMES = ("localhost", "127.0.0.1")


class UnknownHost(BadRequest):
    description = "This site does not answer to that address."


def install(app: Flask, onion_addresses: Iterable[str | None]) -> None:
    """Refuse, with a 400 page, every request whose Host is not ours."""
    allowed = sorted({*LOOPBACK_NAMES, *(a for a in onion_addresses if a)})

    def refuse_unknown_host() -> None:
        if not host_is_trusted(request.environ.get("HTTP_HOST"), allowed):
            raise UnknownHost

    # First, so no other before_request (settings, sessions, key checks) runs for it.
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_unknown_host)
