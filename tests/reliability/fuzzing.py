"""Fuzzing both web apps: request strategies, stored-data snapshots and the checks (P7).

Requests are built from the rules of each app's own URL map, so a new route is fuzzed
without a change here. A request carrying a valid CSRF token may legitimately write (a
well-formed submission is a submission): the tests name what each endpoint may then
change. Every other request must leave the stored data exactly as it was.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

from flask import Flask
from hypothesis import assume, reject
from hypothesis import strategies as st
from sqlalchemy import MetaData, select
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from securedrop_lite.config import Config
from securedrop_lite.services import Services
from securedrop_lite.web.hosts import LOOPBACK_NAMES
from tests.conftest import csrf_token

CSRF_MARK = "__VALID_CSRF__"  # replaced, at send time, by a token valid for the session
EXTRA_METHODS = ("PUT", "DELETE", "PATCH", "TRACE", "PROPFIND", "FOO")
# Text of a traceback, or of the bare 500 page a WSGI server sends when the app fails.
TRACEBACK_MARKERS = (
    "Traceback", 'File "', "werkzeug.exceptions", "sqlalchemy", "Internal Server Error"
)  # fmt: skip
# Sessions are per visitor, and a visitor who loads a form gets one: not stored data.
EPHEMERAL_TABLES = frozenset({"web_sessions"})
# Bodies stay under both apps' limits here; oversized bodies have their own tests.
MAX_FUZZ_BODY = 60_000
FIELD_NAMES = (
    "csrf_token", "msg", "fh", "codename", "next", "number", "when", "where", "present",
    "what", "witnesses", "channel", "contact", "times", "entries", "username", "passphrase",
    "token", "action", "items", "starred", "back", "sort", "source", "message", "is_admin",
    "grant", "organization_name", "welcome_text", "response_promise", "allow_uploads",
    "max_upload_mib", "retention_days", "markdown",
)  # fmt: skip
GARBAGE = (
    "", " ", "\x00", "..", "../", "../../etc/passwd", "%2e%2e", "%2e%2e%2f", "%252e%252e",
    "..\\..\\", "%00", "%zz", "%", "-1", "0", "1", "2147483648", "99999999999999999999",
    "1e3", "NaN", "//evil.example", "https://evil.example/", "/\\evil.example",
    "javascript:alert(1)", "\r\nSet-Cookie: x=1", "\u202e", "é", "😀", "<b>",
    "\uff4c\uff4f\uff47\uff49\uff4e",  # fullwidth "login"
    "{{7*7}}", "'; DROP TABLE sources; --", "CON", "~", "+", ";", "a" * 300,
)  # fmt: skip
FILENAMES = (
    "../../etc/passwd", "a/b.txt", "a\\b.txt", "x\x00.txt", "a" * 5000, "", ".", "..",
    "CON", "é.txt", "😀", "report.pdf", "%2e%2e%2fx", "/abs/path", 'q"uote', "a\rb",
)  # fmt: skip
HEADER_VALUES: Mapping[str, Sequence[str]] = {
    "Host": ("evil.example", "127.0.0.1:8080", "localhost:99999", "", "[::1]", "LOCALHOST",
             "127.0.0.1.", "localhost@evil.example", "x" * 300, "évil.example"),
    "Accept-Language": ("*", "es", "es-ES,es;q=0.9", "zz", "en;q=2", ",,,", "q=;;", "é",
                        "x" * 2000),
    "Range": ("bytes=0-10", "bytes=-1", "bytes=999999999-", "bytes=5-2", "chars=0-1",
              "bytes=a-b", "bytes=" + ",".join(["0-1"] * 200)),
    "If-Modified-Since": ("Thu, 01 Jan 1970 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT",
                          "yesterday", "", "0"),
    "If-None-Match": ("*", '"x"', 'W/""', "x" * 500),
    "Transfer-Encoding": ("chunked", "gzip", "chunked, chunked", "identity", "x"),
    "Content-Encoding": ("gzip", "deflate", "x"),
    "Content-Type": ("multipart/form-data", "multipart/form-data; boundary=", "text/plain",
                     "application/x-www-form-urlencoded; charset=utf-7", "multipart/mixed",
                     "application/json", "x/y; boundary=\"", "é"),
    "Expect": ("100-continue", "x"),
    "X-Forwarded-For": ("1.2.3.4", "x"),
    "X-Forwarded-Host": ("evil.example",),
    "X-tor2web": ("1",),
    "Accept": ("*/*", "application/json", "x/y;q=z", ""),
    "Origin": ("null", "https://evil.example"),
    "Referer": ("https://evil.example/", "x"),
    "User-Agent": ("", "x" * 5000),
    "X-Pad": ("a" * 10_000,),
}  # fmt: skip
GARBAGE_COOKIES = (
    "", "sdl=", "sdlj=", "sdl=" + "A" * 43, "sdlj=" + "A" * 43, "sdl=" + "!" * 43, "sdl=%00",
    "sdl=x; sdl=y", "session=eyJ4Ijox.fake.sig", "a=b; ;; =c", "sdl=" + "A" * 5000, "é=é",
)  # fmt: skip
COOKIE_STYLES = ("session", "none", "wrong-name", "truncated", "flipped", "doubled")

values = st.one_of(
    st.sampled_from(GARBAGE),
    st.text(max_size=80),
    st.builds(
        operator.mul,
        st.sampled_from(["a", "é", "\x00", "\U0001d54f", "../"]),
        st.integers(300, 3000),
    ),
)
header_text = st.text(st.characters(blacklist_characters="\r\n"), max_size=40)


@dataclass(frozen=True)
class Route:
    """One rule of an app's URL map: its path template, methods and arguments."""

    endpoint: str
    rule: str
    methods: tuple[str, ...]
    arguments: tuple[tuple[str, str], ...]  # (name, converter class name)


def routes_of(app: Flask) -> list[Route]:
    return [
        Route(
            rule.endpoint,
            rule.rule,
            tuple(sorted(rule.methods or ())),
            tuple((name, type(conv).__name__) for name, conv in rule._converters.items()),
        )
        for rule in app.url_map.iter_rules()
    ]


@dataclass(frozen=True)
class FuzzRequest:
    method: str
    path: str  # percent-encoded path and query string
    headers: tuple[tuple[str, str], ...]
    body: bytes
    content_type: str | None
    content_length: str | None  # a false Content-Length, or None for the true one
    cookie_style: str
    extra_cookie: str

    @property
    def carries_valid_csrf(self) -> bool:
        return CSRF_MARK.encode() in self.body


def _near(value: str) -> st.SearchStrategy[str]:
    """Values that look like a real one but are not it."""
    return st.sampled_from(
        [f"../{value}", f"{value}/..", f"{value}%00", f"{value}\x00", f"./{value}",
         f"{value}/", f"..%2f{value}", value.upper() + "X", value[:-1], value + "x"]
    )  # fmt: skip


def path_values(converter: str, known: Sequence[str], near: Sequence[str]) -> Any:
    garbage = st.one_of(st.sampled_from(GARBAGE), st.text(min_size=1, max_size=40))
    if converter == "IntegerConverter":
        garbage = st.one_of(garbage, st.integers(-10, 2**64).map(str))
    choices = [garbage, *(_near(v) for v in (*known, *near))]
    if known:
        choices.append(st.sampled_from(known))
    return st.one_of(choices)


def _encode_segment(value: str, raw: bool) -> str:
    # Raw keeps "/" and "%" as typed: traversal and pre-encoded dots reach the router.
    return quote(value, safe="/%.~:@!$&'()*+,;=" if raw else "")


@st.composite
def _query(draw: Any) -> str:
    names = st.one_of(st.sampled_from(("page", "sort", "next", "ended", "lang")), st.text())
    pairs = draw(st.lists(st.tuples(names, values), max_size=3))
    raw = draw(st.sampled_from(["", "", "%zz&&=", "page", "=&=", "%00=%ff"]))
    query = "&".join(filter(None, [urlencode(pairs), raw]))
    return f"?{query}" if query else ""


@st.composite
def _form_fields(draw: Any) -> list[tuple[str, str]]:
    names = st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=20))
    fields = draw(st.lists(st.tuples(names, values), max_size=6))
    for token in draw(st.lists(st.sampled_from(["valid", "garbage"]), max_size=2)):
        value = CSRF_MARK if token == "valid" else draw(values)
        fields.insert(draw(st.integers(0, len(fields))), ("csrf_token", value))
    return fields


def _urlencoded(draw: Any, fields: list[tuple[str, str]]) -> bytes:
    body = urlencode(fields).encode()
    junk = draw(st.sampled_from([b"", b"&%zz", b"&%ff%fe=\xff", b"&&=&", b"&a=b=c", b"\x00"]))
    return body + junk


def _part(draw: Any, name: str, filename: str | None, data: bytes) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    style = draw(st.sampled_from(["ok", "ok", "ok", "no-disposition", "bad", "huge", "no-blank"]))
    headers = {
        "ok": f"Content-Disposition: {disposition}",
        "no-disposition": "Content-Type: text/plain",
        "bad": draw(st.sampled_from(["Content-Disposition: form-data; name", "Content-Disp",
                                     "Content-Disposition: attachment", ": x"])),
        "huge": f"Content-Disposition: {disposition}\r\nX-Pad: {'a' * 20_000}",
        "no-blank": f"Content-Disposition: {disposition}",
    }[style]  # fmt: skip
    blank = b"\r\n" if style == "no-blank" else b"\r\n\r\n"
    return headers.encode("utf-8", "surrogatepass") + blank + data


@st.composite
def _multipart(draw: Any, fields: list[tuple[str, str]]) -> tuple[bytes, str]:
    boundary = draw(st.sampled_from(["fuzzboundary"] * 4 + ["", "a" * 200, "with space", "é"]))
    parts = [_part(draw, name, None, value.encode()) for name, value in fields]
    files = st.tuples(
        st.sampled_from(["fh", "fh", "other", ""]),
        st.sampled_from(FILENAMES),
        st.one_of(st.binary(max_size=2000), st.integers(3000, 6000).map(lambda n: b"x" * n)),
    )
    for name, filename, data in draw(st.lists(files, max_size=3)):
        parts.insert(draw(st.integers(0, len(parts))), _part(draw, name, filename, data))
    delimiter = b"--" + boundary.encode()
    newline = draw(st.sampled_from([b"\r\n", b"\r\n", b"\n"]))
    body = b"".join(delimiter + newline + part + newline for part in parts)
    body += draw(st.sampled_from([delimiter + b"--\r\n", b"", delimiter]))
    if draw(st.booleans()):
        body = body[: draw(st.integers(0, len(body)))]  # truncated
    declared = draw(st.sampled_from([boundary, boundary, "other", None]))
    content_type = "multipart/form-data" + (f"; boundary={declared}" if declared else "")
    return body, content_type


@st.composite
def fuzz_requests(
    draw: Any, routes: Sequence[Route], known: Mapping[str, Sequence[str]],
    near: Mapping[str, Sequence[str]] = {},
) -> FuzzRequest:  # fmt: skip
    """A request to one route of the app, malformed in as many ways as drawn."""
    route = draw(st.sampled_from(routes))
    allowed = [m for m in route.methods if m != "OPTIONS"]
    # One request in eight uses a method the rule does not allow.
    methods = EXTRA_METHODS if draw(st.integers(0, 7)) == 7 else allowed
    method = draw(st.sampled_from(methods))
    path = route.rule
    for name, converter in route.arguments:
        value = draw(path_values(converter, known.get(name, ()), near.get(name, ())))
        segment = _encode_segment(value, raw=draw(st.booleans()))
        path = path.replace(path[path.index("<") : path.index(">") + 1], segment, 1)
    path += draw(_query())
    header = st.one_of(
        st.sampled_from(sorted(HEADER_VALUES)).flatmap(
            lambda name: st.tuples(st.just(name), st.sampled_from(HEADER_VALUES[name]))
        ),
        st.tuples(st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,20}", fullmatch=True), header_text),
    )
    headers = tuple(draw(st.lists(header, max_size=3)))
    kind = draw(st.sampled_from(["none", "form", "form", "multipart", "multipart", "binary"]))
    content_type: str | None = None
    body = b""
    if kind == "form":
        body = _urlencoded(draw, draw(_form_fields()))
        content_type = "application/x-www-form-urlencoded"
    elif kind == "multipart":
        body, content_type = draw(_multipart(draw(_form_fields())))
    elif kind == "binary":
        body = draw(st.binary(max_size=3000))
        content_type = draw(st.sampled_from([None, "application/octet-stream"]))
    assume(len(body) <= MAX_FUZZ_BODY)
    lengths = [None, None, None, "-1", "abc", "0", "99999999999", str(len(body) // 2)]
    return FuzzRequest(
        method, path, headers, body, content_type, draw(st.sampled_from(lengths)),
        draw(st.sampled_from(COOKIE_STYLES)),
        draw(st.one_of(st.sampled_from(GARBAGE_COOKIES), header_text)),
    )  # fmt: skip


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
        if oversized and request.method == "POST" and answer.status not in (413, 302, 303, 400, 404):
            failures.add(f"POST {request.path} answered {answer.status}, not 413")
    return sorted(failures)
