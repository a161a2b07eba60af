"""Fuzzing both web apps: the strategies that build requests (checks: fuzz_checks.py).

Requests are built from the rules of each app's own URL map, so a new route is fuzzed
without a change here. A request carrying a valid CSRF token may legitimately write (a
well-formed submission is a submission): the tests name what each endpoint may then
change. Every other request must leave the stored data exactly as it was.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from flask import Flask
from hypothesis import assume
from hypothesis import strategies as st

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
