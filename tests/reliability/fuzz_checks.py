"""Fuzzing both web apps: stored-data snapshots, sending, and the checks of every answer (P7).

The strategies that build the requests are in fuzzing.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

from flask import Flask
from hypothesis import reject
from sqlalchemy import MetaData, select
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from securedrop_lite.config import Config
from securedrop_lite.services import Services
from securedrop_lite.web.hosts import LOOPBACK_NAMES
from tests.conftest import csrf_token
from tests.reliability.fuzzing import (
    CSRF_MARK,
    EPHEMERAL_TABLES,
    FIELD_NAMES,
    HEADER_VALUES,
    TRACEBACK_MARKERS,
    FuzzRequest,
    Route,
)


class StoredData:
    """Every table's rows (sessions aside) and every file in the store, to compare."""

    def __init__(self, services: Services, config: Config) -> None:
        self.engine = services.db.engine
        metadata = MetaData()
        metadata.reflect(self.engine)
        self.tables = [t for t in metadata.sorted_tables if t.name not in EPHEMERAL_TABLES]
        self.store = config.store_dir

    def snapshot(self) -> dict[str, list[Any]]:
        with self.engine.connect() as connection:
            state = {
                table.name: sorted(repr(tuple(row)) for row in connection.execute(select(table)))
                for table in self.tables
            }
        state["store"] = sorted(
            (str(p.relative_to(self.store)), -1, "")
            if p.is_dir()
            else (
                str(p.relative_to(self.store)),
                p.stat().st_size,
                hashlib.sha256(p.read_bytes()).hexdigest(),
            )
            for p in self.store.rglob("*")
        )
        return state


def changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> set[str]:
    """Name the tables (and "store") whose contents differ."""
    return {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}


@dataclass
class Target:
    """One app, fuzzed as one kind of visitor."""

    app: Flask
    cookie_name: str
    other_cookie_name: str  # the other app's cookie: a real token under the wrong name
    csrf_page: str  # a page whose form carries a CSRF token for the session
    new_session: Callable[[], str | None]  # a fresh session cookie, or None: a visitor without
    stored: StoredData
    external_redirects: tuple[str, ...] = ()


def _cookie_header(target: Target, request: FuzzRequest, value: str | None) -> str:
    name, style = target.cookie_name, request.cookie_style
    jar = {
        "session": [f"{name}={value}"],
        "wrong-name": [f"{target.other_cookie_name}={value}"],
        "truncated": [f"{name}={(value or '')[:-1]}"],
        # The first character: the last one of a 43-character base64 token holds padding.
        "flipped": [f"{name}={'B' if (value or 'A')[0] == 'A' else 'A'}{(value or ' ')[1:]}"],
        "doubled": [f"{name}={value}", f"{name}=x"],
    }.get(style, [])
    return "; ".join(filter(None, [*(jar if value else []), request.extra_cookie]))


def _session_from(response: Any, name: str) -> str | None:
    cookies = SimpleCookie(", ".join(response.headers.getlist("Set-Cookie")))
    return cookies[name].value if name in cookies else None


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    headers: Any
    endpoint: str | None  # the endpoint that the path and method reach, if any


def send(target: Target, request: FuzzRequest) -> Answer:
    """Send one fuzzed request through the test client, as a real server would pass it on."""
    client = target.app.test_client(use_cookies=False)
    value, body = target.new_session(), request.body
    if request.carries_valid_csrf:
        cookie = f"{target.cookie_name}={value}" if value else ""
        page = client.get(target.csrf_page, headers={"Cookie": cookie})
        value = value or _session_from(page, target.cookie_name)
        token = csrf_token(page.get_data(as_text=True))
        body = body.replace(CSRF_MARK.encode(), token.encode())
    headers = [*request.headers, ("Cookie", _cookie_header(target, request, value))]
    try:
        environ = EnvironBuilder(
            path=request.path, method=request.method, headers=headers, data=body,
            content_type=request.content_type,
        ).get_environ()  # fmt: skip
    except (ValueError, TypeError, UnicodeError):
        reject()  # the test client itself cannot send this
    if request.content_length is not None:
        environ["CONTENT_LENGTH"] = request.content_length
    try:
        response = client.open(Request(environ))
    except Exception as exc:  # raised past every error handler: gunicorn answers 500
        raise AssertionError(
            f"{request.method} {request.path} raised {type(exc).__name__}: {exc} "
            "(a real server answers 500)"
        ) from exc
    try:
        text = response.get_data().decode("utf-8", "replace")
    finally:
        response.close()
    return Answer(response.status_code, text, response.headers, endpoint_of(target.app, request))


def endpoint_of(app: Flask, request: FuzzRequest) -> str | None:
    """Return the endpoint that the request's path and method reach, if any."""
    path = unquote(request.path.split("?", 1)[0], errors="replace")
    try:
        endpoint, _ = app.url_map.bind("localhost").match(path, request.method)
    except Exception:  # no route: nothing may be written
        return None
    return str(endpoint)


def check_answer(target: Target, request: FuzzRequest, answer: Answer) -> None:
    """A plain page: no 5xx, no traceback text, the security headers, no redirect away."""
    where = f"{request.method} {request.path} ({request.content_type})"
    assert answer.status < 500, f"{where} answered {answer.status}"
    for marker in TRACEBACK_MARKERS:
        assert marker not in answer.body, f"{where}: {marker!r} in the page"
    assert "Content-Security-Policy" in answer.headers, f"{where}: no CSP header"
    location = answer.headers.get("Location")
    if location is not None and location not in target.external_redirects:
        # A path on this site, or Werkzeug's absolute form of one (merged slashes).
        absolute = urlsplit(location)
        assert absolute.hostname in (None, *LOOPBACK_NAMES), f"{where}: redirect to {location}"
        assert not location.startswith(("//", "/\\")), f"{where}: redirect to {location}"


def fuzz_once(
    target: Target,
    request: FuzzRequest,
    may_change: Callable[[str | None, int], frozenset[str]],
) -> Answer:
    """Send the request; check the answer and that stored data changed only as allowed.

    may_change(endpoint, status) names what a request with a valid CSRF token may
    change; any other request must change nothing.
    """
    before = target.stored.snapshot()
    answer = send(target, request)
    check_answer(target, request, answer)
    allowed = may_change(answer.endpoint, answer.status) if request.carries_valid_csrf else set()
    unexpected = changed(before, target.stored.snapshot()) - allowed
    assert not unexpected, (
        f"{request.method} {request.path} answered {answer.status} and changed {sorted(unexpected)}"
    )
    return answer


def odd_header_requests(path: str, form: bytes) -> list[FuzzRequest]:
    """Every listed odd header value, once on a GET and once on a form POST to path."""
    kind = "application/x-www-form-urlencoded"
    return [
        FuzzRequest(method, path, ((name, value),), body, kind, None, "session", "")
        for name, choices in HEADER_VALUES.items()
        for value in choices
        for method, body in (("GET", b""), ("POST", form))
    ]


def nul_requests(
    routes: Sequence[Route], values: Mapping[str, str], defaults: Mapping[str, str]
) -> list[FuzzRequest]:
    """A NUL in every path argument; and in every form field, beside the real arguments.

    defaults names fields that must hold something valid for a form to reach its query.
    """
    form = urlencode({**dict.fromkeys(FIELD_NAMES, "a\0b"), **defaults, "csrf_token": CSRF_MARK})
    kind = "application/x-www-form-urlencoded"
    requests = []
    for route in routes:
        paths = [path_of(route, {**values, name: "a%00b"}) for name, _ in route.arguments]
        for path in [path_of(route, values), *paths]:
            for method in [m for m in route.methods if m in ("GET", "POST")]:
                body, of_kind = (form.encode(), kind) if method == "POST" else (b"", None)
                requests.append(FuzzRequest(method, path, (), body, of_kind, None, "session", ""))
    return requests


def path_of(route: Route, values: Mapping[str, str]) -> str:
    """Fill the rule's arguments with the given values."""
    path = route.rule
    for name, _ in route.arguments:
        path = path.replace(path[path.index("<") : path.index(">") + 1], values[name], 1)
    return path


def oversized_requests(
    routes: Sequence[Route], values: Mapping[str, str], size: int
) -> list[FuzzRequest]:
    """A body over the limit to every route: by each method it allows, and by PUT."""
    body = b"x" * size
    requests = []
    for route in routes:
        for method in [m for m in route.methods if m in ("GET", "POST")] + ["PUT"]:
            kinds = ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
            for kind in kinds if method == "POST" else kinds[:1]:
                path = path_of(route, values)
                requests.append(FuzzRequest(method, path, (), body, kind, None, "session", ""))
    return requests


def failures_of(
    target: Target,
    requests: Sequence[FuzzRequest],
    may_change: Callable[[str | None, int], frozenset[str]],
    oversized: bool = False,
) -> list[str]:
    """Send every request; return what went wrong with each, so one run reports all.

    An oversized POST must get the 413 page, or an answer given before the body was read:
    a redirect, or the page of a refusal that needs no body (an account that does not
    exist is a 400, an unknown item a 404).
    """
    failures = set()
    for request in requests:
        try:
            answer = fuzz_once(target, request, may_change)
        except AssertionError as exc:
            headers = "".join(f" [{name}: {value[:40]}]" for name, value in request.headers)
            failures.add(str(exc).splitlines()[0] + headers)
            continue
        if (
            oversized
            and request.method == "POST"
            and answer.status not in (413, 302, 303, 400, 404)
        ):
            failures.add(f"POST {request.path} answered {answer.status}, not 413")
    return sorted(failures)
