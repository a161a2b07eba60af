"""Every page a source can see, reached as a source reaches it: for tests that check them all."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import pytest

from securedrop_lite.config import MIB
from securedrop_lite.services import Services
from tests.conftest import FrozenClock, SourceActions, csrf_token, make_submission_key_unusable

_ENTRY_LINK = re.compile(r'href="/log/([0-9a-f]{32})"')
_REPLY_NUMBER = re.compile(r'name="number" value="(\d+)"')


@dataclass(frozen=True)
class SeenPage:
    name: str
    status: int
    html: str


_BOUNDARY = "sdlite-boundary"
_MULTIPART = f"multipart/form-data; boundary={_BOUNDARY}"


def _multipart(fields: dict[str, str], file: tuple[str, bytes]) -> bytes:
    """Encode a form with one file part `fh` (the test client would spool a large one)."""
    file_name, content = file
    disposition = "--" + _BOUNDARY + '\r\nContent-Disposition: form-data; name="{}"{}\r\n\r\n'
    parts = [disposition.format(name, "") + value + "\r\n" for name, value in fields.items()]
    head = "".join(parts) + disposition.format("fh", f'; filename="{file_name}"')
    return head.encode() + content + f"\r\n--{_BOUNDARY}--\r\n".encode()


class _StalledUpload(io.BytesIO):
    """A request body whose reads time out, as the server's idle timeout makes them."""

    def read(self, size: int | None = -1) -> bytes:
        raise TimeoutError

    def readinto(self, buffer: Any) -> int:
        raise TimeoutError


@dataclass
class _Walk:
    client: Any
    seen: list[SeenPage] = field(default_factory=list)

    def keep(self, name: str, response: Any) -> str:
        self.seen.append(SeenPage(name, response.status_code, response.get_data(as_text=True)))
        return self.seen[-1].html

    def get(self, name: str, path: str, **kwargs: Any) -> str:
        return self.keep(name, self.client.get(path, **kwargs))

    def post(self, name: str, path: str, data: dict[str, Any], page: str, **kwargs: Any) -> str:
        """Post a form with a fresh CSRF token from `page`, following redirects."""
        token = csrf_token(self.client.get(page).get_data(as_text=True))
        response = self.client.post(
            path, data={"csrf_token": token, **data}, follow_redirects=True, **kwargs
        )
        return self.keep(name, response)


def every_source_page(
    source: SourceActions,
    services: Services,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
    language: str = "en",
) -> list[SeenPage]:
    """Walk every source page and error page in one language; return what each showed.

    The walk covers the anonymous pages, a logged-in source before and after submitting,
    with a reply, the incident log, a conversation request, form errors, error pages,
    withdrawal, the offline page and the Tor2Web refusal.
    """
    client = source.client
    walk = _Walk(client)
    get, post = walk.get, walk.post

    assert client.get(f"/lang/{language}").status_code == 302
    get("index", "/")
    for slug in ("about", "options", "referrals"):
        get(f"info {slug}", f"/info/{slug}")
    get("info, unknown page", "/info/no-such-page")
    get("consent", "/consent")
    get("login", "/login")
    post("login failed", "/login", {"codename": "not a codename at all"}, "/login")
    for _ in range(services.config.codename_attempts_per_minute - 1):
        source.login("not a codename at all")
    post("login throttled", "/login", {"codename": "not a codename at all"}, "/login")
    clock.advance(timedelta(minutes=1))  # the session may try again
    get("not found", "/no-such-page")
    get("method not allowed", "/submit")
    walk.keep("csrf refused", client.post("/login", data={"codename": "x"}))
    source.consent()
    post("create, no codename yet", "/create", {}, "/consent")
    get("generate", "/generate")
    source.create()
    get("lookup before consent", "/lookup")  # consent was given before the codename
    client.get("/logout")
    client.get(f"/lang/{language}")  # logging out ended the session, and its language
    assert source.login().status_code == 302
    get("lookup, logged in again, consent needed", "/lookup")
    source.consent("lookup")
    source.submit(msg="first message")
    services.replies.reply(services.inbox.page(1).rows[0].ref, "We read it. Take care.")
    lookup = get("lookup with a reply", "/lookup")
    post("empty submission", "/submit", {"msg": ""}, "/lookup")
    _error_pages(walk, services, monkeypatch)
    _incident_log_pages(walk)
    get("request a conversation", "/request-conversation")
    post("request refused", "/request-conversation", {"channel": "fax"}, "/lookup")
    post(
        "request sent",
        "/request-conversation",
        {"channel": "messaging", "contact": "signal: quiet.otter.07"},
        "/lookup",
    )
    get("lookup after a request", "/lookup")
    reply = _REPLY_NUMBER.search(lookup)
    assert reply, "no reply on /lookup"
    post("reply deleted", "/delete-reply", {"number": reply.group(1)}, "/lookup")
    get("withdraw?", "/withdraw")
    post("withdrawn", "/withdraw", {}, "/withdraw")
    client.get(f"/lang/{language}")  # withdrawal ended the session, and its language
    get("logged out", "/logout")
    client.get(f"/lang/{language}")
    get("tor2web", "/", headers={"X-tor2web": "1"})
    make_submission_key_unusable(services, clock, monkeypatch)
    get("offline", "/")
    return walk.seen


def _error_pages(walk: _Walk, services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    """Visit, as a logged-in source, each error page a request can end on."""
    from securedrop_lite.crypto import EncryptionError

    get, post, client = walk.get, walk.post, walk.client
    post("reply, unknown number", "/delete-reply", {"number": "999"}, "/lookup")
    post("reply, invalid form", "/delete-reply", {"number": "not a number"}, "/lookup")
    two_files = {"fh": [(io.BytesIO(b"one"), "one.txt"), (io.BytesIO(b"two"), "two.txt")]}
    post("two files", "/submit", two_files, "/lookup", content_type="multipart/form-data")
    walk.keep(
        "malformed form",
        client.post(
            "/submit",
            data=b"--xyz\r\nno headers end",
            content_type="multipart/form-data; boundary=xyz",
        ),
    )
    walk.keep(
        "upload stalled",
        client.post(
            "/submit",
            input_stream=_StalledUpload(b"x" * 5000),
            content_length=5000,
            content_type="multipart/form-data; boundary=xyz",
        ),
    )
    saved = services.settings.current()
    services.settings.update(replace(saved, max_upload_bytes=MIB))
    token = csrf_token(client.get("/lookup").get_data(as_text=True))
    for name, size in (("file over the limit", MIB + 1), ("body over the limit", 2 * MIB)):
        body = _multipart({"csrf_token": token, "msg": ""}, ("big.bin", b"\0" * size))
        walk.keep(name, client.post("/submit", data=body, content_type=_MULTIPART))
    services.settings.update(saved)

    def broken(*args: object, **kwargs: object) -> None:
        raise EncryptionError("gpg: disk full")

    with monkeypatch.context() as patch:
        patch.setattr(services.key, "encrypt", broken)
        data = {"msg": "not kept", "fh": (io.BytesIO(b"data"), "a.bin")}
        post("storage failed", "/submit", data, "/lookup", content_type="multipart/form-data")

    def explode(*args: object) -> None:
        raise RuntimeError("an unexpected failure")

    with monkeypatch.context() as patch:
        patch.setattr(services.sources, "summary", explode)
        get("internal error", "/lookup")


def _incident_log_pages(walk: _Walk) -> None:
    """Write, read, revise, share and delete an entry of the incident log."""
    get, post = walk.get, walk.post
    get("log, empty", "/log")
    get("log, new entry", "/log/new")
    post("log, refused entry", "/log/new", {"what": ""}, "/log/new")
    post("log, saved", "/log/new", {"what": "It happened again.", "when": "Monday"}, "/log/new")
    listing = get("log, one entry", "/log")
    match = _ENTRY_LINK.search(listing)
    assert match, "no entry link on /log"
    ref = match.group(1)
    get("log entry", f"/log/{ref}")
    get("log, revise", f"/log/{ref}/revise")
    post("log, revised", f"/log/{ref}/revise", {"what": "It happened twice."}, "/log/new")
    get("log entry with versions", f"/log/{ref}")
    post("log, nothing chosen to share", "/log/share", {}, "/log")
    post("log, shared", "/log/share", {"entries": ref}, "/log")
    get("log, delete?", f"/log/{ref}/delete")
    get("log, unknown entry", "/log/" + "0" * 32)
