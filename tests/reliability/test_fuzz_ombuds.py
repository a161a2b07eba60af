"""Fuzz every route of the ombuds interface, and both real servers with raw malformed HTTP."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from hypothesis import event, given, reject
from hypothesis import strategies as st
from sqlalchemy import select

from securedrop_lite.config import Config
from securedrop_lite.infopages import LOCALES, SLUGS
from securedrop_lite.models import Source
from securedrop_lite.services import Services
from securedrop_lite.services.users import NewCredentials
from securedrop_lite.sessions import encode_token
from securedrop_lite.web.app import message_form_bytes
from tests.conftest import (
    FrozenClock,
    HttpSource,
    OmbudsActions,
    SourceActions,
    csrf_token,
)
from tests.reliability.fuzz_checks import (
    StoredData,
    Target,
    changed,
    endpoint_of,
    failures_of,
    fuzz_once,
    nul_requests,
    odd_header_requests,
    oversized_requests,
)
from tests.reliability.fuzzing import (
    CSRF_MARK,
    TRACEBACK_MARKERS,
    FuzzRequest,
    fuzz_requests,
    routes_of,
)

SMALL_LIMITS = {"SDLITE_MAX_MESSAGE_CHARS": "2000", "SDLITE_MAX_UPLOAD_BYTES": "4096"}
# What a request with a valid CSRF token may change: a login or re-authentication is
# recorded whatever its outcome, the rest only when accepted (status < 400).
_RECORDED = frozenset({"audit_events", "login_attempts"})
ATTEMPT_EFFECTS = {
    "account.login": _RECORDED,
    "account.new_passphrase": _RECORDED,
    "account.start_two_factor": _RECORDED,
}
_ACCOUNTS = frozenset({"users", "audit_events"})
ACCEPTED_EFFECTS = {
    "main.items": frozenset({"audit_events", "submissions"}),  # never the store
    "main.star": frozenset({"sources"}),
    "main.reply": frozenset({"replies", "sources", "store", "audit_events"}),
    "admin.add_user": _ACCOUNTS,
    "admin.new_onion_key": _ACCOUNTS,
    "admin.reset_passphrase": _ACCOUNTS,
    "admin.set_admin": _ACCOUNTS,
    "admin.delete_user": _ACCOUNTS,
    "admin.reset_two_factor": _ACCOUNTS,
    "account.two_factor": _ACCOUNTS,
    "admin.settings": frozenset({"instance_settings", "audit_events"}),
    "info_pages.edit": frozenset({"info_pages", "audit_events"}),
    "info_pages.reset": frozenset({"info_pages", "audit_events"}),
}

# Path arguments for the sweeps: user 999 does not exist, so no account is touched.
SWEEP_VALUES = {
    "file_name": "1-nothing-msg.gpg",
    "user_id": "999",
    "slug": SLUGS[0],
    "locale": LOCALES[0],
    "filename": "ombuds.css",
}


@pytest.fixture(autouse=True)
def _small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small body limits, so that oversized bodies are cheap to send."""
    for name, value in SMALL_LIMITS.items():
        monkeypatch.setenv(name, value)


@dataclass
class Populated:
    """A source with a message, a file and a reply; an admin who logged in for real."""

    ref: str
    file_names: list[str]
    admin_id: int


@pytest.fixture
def populated(
    source: SourceActions,
    services: Services,
    ombuds: OmbudsActions,
    admin_credentials: NewCredentials,
) -> Populated:
    source.signup()
    assert source.submit("first message", (b"a file", "notes.txt")).status_code == 302
    with services.db.session() as s:
        ref = s.scalars(select(Source.store_dir)).one()
    services.replies.reply(ref, "a reply from the ombuds")
    assert ombuds.client.get("/admin/").status_code == 200  # logged in, as an admin
    admin = services.users.find(admin_credentials.username)
    return Populated(ref, services.store.item_names(ref), admin.id)


@pytest.fixture
def stored(services: Services, config: Config) -> StoredData:
    return StoredData(services, config)


def ombuds_target(
    app: Any, services: Services, clock: FrozenClock, stored: StoredData, user_id: int | None
) -> Target:
    def new_session() -> str | None:
        """Seal what a TOTP login puts in a session, afresh for each example: codes cannot
        be reused, and a request that logs out must not end the next example's session."""
        account = None if user_id is None else services.users.get(user_id)
        if account is None:
            return None
        token = services.sessions.new_token()
        data = {"user_id": account.id, "epoch": account.session_epoch}
        services.sessions.save(token, {**data, "last_seen": clock().isoformat()})
        return encode_token(token)

    # /account carries the re-authentication form; anonymous visitors get /login instead.
    page = "/login" if user_id is None else "/account"
    return Target(app, "sdlj", "sdl", page, new_session, stored)


def may_change(endpoint: str | None, status: int) -> frozenset[str]:
    attempt = ATTEMPT_EFFECTS.get(endpoint or "", frozenset())
    accepted = ACCEPTED_EFFECTS.get(endpoint or "", frozenset())
    return attempt | accepted if status < 400 else attempt


def destroys_the_fixtures(request: FuzzRequest, endpoint: str | None, data: Populated) -> bool:
    """Deleting the one source, or demoting or deleting the admin, needs only the token:
    garbage fields would test nothing, and every later example would lose its subject."""
    if endpoint == "main.delete_source":
        return data.ref in request.path
    own = f"/users/{data.admin_id}/"
    return endpoint in {"admin.set_admin", "admin.delete_user"} and own in request.path


@pytest.mark.parametrize("visitor", ["anonymous", "admin"])
@given(data=st.data())
def test_ombuds_routes_answer_malformed_requests_with_plain_pages_and_change_nothing(
    visitor: str,
    data: Any,
    journalist_app: Any,
    services: Services,
    clock: FrozenClock,
    stored: StoredData,
    populated: Populated,
) -> None:
    user_id = populated.admin_id if visitor == "admin" else None
    target = ombuds_target(journalist_app, services, clock, stored, user_id)
    known = {
        "ref": [populated.ref],
        "user_id": [str(populated.admin_id), "999"],
        "slug": list(SLUGS),
        "locale": list(LOCALES),
        "filename": ["ombuds.css"],
    }
    near = {"file_name": populated.file_names}  # a real name would be a real download
    request = data.draw(fuzz_requests(routes_of(journalist_app), known, near))
    endpoint = endpoint_of(journalist_app, request)
    if request.carries_valid_csrf and destroys_the_fixtures(request, endpoint, populated):
        reject()
    answer = fuzz_once(target, request, may_change)
    event(f"{answer.endpoint} {request.carries_valid_csrf=} {answer.status}")


def test_every_ombuds_route_answers_an_oversized_body_with_a_413_page(
    journalist_app: Any,
    services: Services,
    clock: FrozenClock,
    config: Config,
    stored: StoredData,
    populated: Populated,
) -> None:
    target = ombuds_target(journalist_app, services, clock, stored, populated.admin_id)
    values = {**SWEEP_VALUES, "ref": populated.ref}
    requests = oversized_requests(routes_of(journalist_app), values, message_form_bytes(config) + 1)
    failures = failures_of(target, requests, may_change, oversized=True)
    assert not failures, "\n".join(failures)


def test_every_odd_header_gets_a_plain_page_and_changes_nothing(
    journalist_app: Any,
    services: Services,
    clock: FrozenClock,
    stored: StoredData,
    populated: Populated,
) -> None:
    form = f"csrf_token={CSRF_MARK}&username=x&passphrase=y&token=1".encode()
    target = ombuds_target(journalist_app, services, clock, stored, None)
    failures = failures_of(target, odd_header_requests("/login", form), may_change)
    assert not failures, "\n".join(failures)


def test_a_nul_in_any_path_argument_or_field_gets_a_plain_page(
    journalist_app: Any,
    services: Services,
    clock: FrozenClock,
    stored: StoredData,
    populated: Populated,
) -> None:
    """PostgreSQL refuses NUL in text, where SQLite stores it: either way, a plain page."""
    target = ombuds_target(journalist_app, services, clock, stored, populated.admin_id)
    values = {**SWEEP_VALUES, "ref": populated.ref}
    # Valid where a form needs it to reach the database: the NUL is in every other field.
    defaults = {"max_upload_mib": "5", "retention_days": "0", "action": "mark-seen"}
    defaults["markdown"] = "# a\0b"
    requests = [
        request
        for request in nul_requests(routes_of(journalist_app), values, defaults)
        if not destroys_the_fixtures(request, endpoint_of(journalist_app, request), populated)
    ]
    failures = failures_of(target, requests, may_change)
    assert not failures, "\n".join(failures)


def _exchange(url: str, raw: bytes, half_close: bool) -> bytes:
    """Send raw bytes on a new connection; return everything the server answers."""
    address = urlsplit(url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as conn:
        conn.sendall(raw)
        if half_close:  # the client stops sending, as a dropped upload does
            conn.shutdown(socket.SHUT_WR)
        received = bytearray()
        try:
            while chunk := conn.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    return bytes(received)


def raw_requests(form_path: str, cookie: str, token: str) -> dict[str, tuple[bytes, bool]]:
    """Malformed HTTP, by name: (the bytes, whether the client then stops sending)."""
    head = "Host: 127.0.0.1\r\nConnection: close\r\n"
    post = f"POST {form_path} HTTP/1.1\r\n{head}Cookie: {cookie}\r\n"
    body = (
        (
            f'--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
            '--b\r\nContent-Disposition: form-data; name="fh"; filename="a.txt"\r\n\r\n'
        ).encode()
        + b"x" * 3000
        + b"\r\n--b--\r\n"
    )
    multipart = f"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: {len(body)}"
    chunked = "Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked"
    return {
        "a bad request line": (b"GARBAGE\r\n\r\n", False),
        "a NUL in the target": (f"GET /\0 HTTP/1.1\r\n{head}\r\n".encode(), False),
        "HTTP/9.9": (f"GET / HTTP/9.9\r\n{head}\r\n".encode(), False),
        "a header without a colon": (f"GET / HTTP/1.1\r\n{head}NoColon\r\n\r\n".encode(), False),
        "a 64-character Host label": (
            f"GET /login HTTP/1.1\r\nHost: {'x' * 64}\r\nConnection: close\r\n\r\n".encode(),
            False,
        ),
        "a 10 KB header": (f"GET / HTTP/1.1\r\n{head}X-Pad: {'a' * 10240}\r\n\r\n".encode(), False),
        "bad chunked encoding": (f"{post}{chunked}\r\n\r\nzz\r\nabc\r\n0\r\n\r\n".encode(), False),
        "chunked and a Content-Length": (
            f"{post}{chunked}\r\nContent-Length: 4\r\n\r\n0\r\n\r\n".encode(), False
        ),
        "another host, absolute-form": (
            b"GET http://evil.example/ HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
            False,
        ),
        "traversal": (f"GET /static/../../../../etc/passwd HTTP/1.1\r\n{head}\r\n".encode(), False),
        "chunked body cut short": (f"{post}{chunked}\r\n\r\na\r\nabc".encode(), True),
        "truncated multipart": (f"{post}{multipart}\r\n\r\n".encode() + body[:1500], True),
    }  # fmt: skip


def _check_raw_answer(name: str, answer: bytes) -> str | None:
    """Return what is wrong with a server's answer to malformed HTTP, or None."""
    if not answer.startswith(b"HTTP/1."):
        return f"{name}: no HTTP answer ({answer[:60]!r})"
    status = int(answer.split(b" ", 2)[1])
    text = answer.decode("utf-8", "replace")
    found = [marker for marker in TRACEBACK_MARKERS if marker in text]
    if status >= 500 or found:
        return f"{name}: answered {status}{', with ' + str(found) if found else ''}"
    return None


def test_real_servers_answer_raw_malformed_http_plainly_and_keep_serving(
    servers: Any, stored: StoredData
) -> None:
    source_server, ombuds_server = servers
    worker = HttpSource(source_server.url)
    worker.signup()
    anonymous = requests.Session()
    login_url = ombuds_server.url + "/login"
    login_page = anonymous.get(login_url, timeout=60).text
    lookup_page = worker.get("/lookup").text
    forms = [  # a logged-in source's upload form; the ombuds login form
        ("source", source_server, "/submit", f"sdl={worker.http.cookies['sdl']}", lookup_page),
        ("ombuds", ombuds_server, "/login", f"sdlj={anonymous.cookies['sdlj']}", login_page),
    ]
    before = stored.snapshot()
    failures = []
    for app, server, form_path, cookie, page in forms:
        for name, (raw, half_close) in raw_requests(form_path, cookie, csrf_token(page)).items():
            failure = _check_raw_answer(name, _exchange(server.url, raw, half_close))
            if failure is not None:
                failures.append(f"{app} app, {failure}")
    # Still serving, nothing stored changed, no traceback logged: all in one report.
    for app, url in (("source", source_server.url + "/robots.txt"), ("ombuds", login_url)):
        if (status := anonymous.get(url, timeout=60).status_code) != 200:
            failures.append(f"{app} app no longer serves: {status}")
    worker.http.close()
    anonymous.close()  # no idle keep-alive connection holds up the servers' shutdown
    if changes := changed(before, stored.snapshot()):
        failures.append(f"stored data changed: {sorted(changes)}")
    for app, server in (("source", source_server), ("ombuds", ombuds_server)):
        if "Traceback" in server.log_text():
            errors = [line for line in server.log_text().splitlines() if "Error:" in line]
            failures.append(f"the {app} server logged tracebacks: {errors}")
    assert not failures, "\n".join(failures)
