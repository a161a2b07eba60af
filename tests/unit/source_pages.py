"""Every page a source can see, reached as a source reaches it: for tests that check them all."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from securedrop_lite.services import Services
from tests.conftest import FrozenClock, SourceActions, csrf_token

_ENTRY_LINK = re.compile(r'href="/log/([0-9a-f]{32})"')


@dataclass(frozen=True)
class SeenPage:
    name: str
    status: int
    html: str


def _page(name: str, response: Any) -> SeenPage:
    return SeenPage(name, response.status_code, response.get_data(as_text=True))


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
    seen: list[SeenPage] = []

    def get(name: str, path: str, **kwargs: Any) -> str:
        seen.append(_page(name, client.get(path, **kwargs)))
        return seen[-1].html

    def post(name: str, path: str, data: dict[str, Any], page: str) -> None:
        token = csrf_token(client.get(page).get_data(as_text=True))
        response = client.post(path, data={"csrf_token": token, **data}, follow_redirects=True)
        seen.append(_page(name, response))

    assert client.get(f"/lang/{language}").status_code == 302
    get("index", "/")
    for slug in ("about", "options", "referrals"):
        get(f"info {slug}", f"/info/{slug}")
    get("consent", "/consent")
    get("login", "/login")
    post("login failed", "/login", {"codename": "not a codename at all"}, "/login")
    get("not found", "/no-such-page")
    seen.append(_page("csrf refused", client.post("/login", data={"codename": "x"})))
    source.consent()
    get("generate", "/generate")
    source.create()
    get("lookup before consent", "/lookup")  # consent was given before the codename
    source.submit(msg="first message")
    services.replies.reply(services.inbox.page(1).rows[0].ref, "We read it. Take care.")
    get("lookup with a reply", "/lookup")
    post("empty submission", "/submit", {"msg": ""}, "/lookup")
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
    get("log, delete?", f"/log/{ref}/delete")
    get("log, unknown entry", "/log/" + "0" * 32)
    get("request a conversation", "/request-conversation")
    post("request refused", "/request-conversation", {"channel": "fax"}, "/lookup")
    post(
        "request sent",
        "/request-conversation",
        {"channel": "messaging", "contact": "signal: quiet.otter.07"},
        "/lookup",
    )
    get("lookup after a request", "/lookup")
    get("withdraw?", "/withdraw")
    post("withdrawn", "/withdraw", {}, "/withdraw")
    client.get(f"/lang/{language}")  # withdrawal ended the session, and its language
    get("logged out", "/logout")
    client.get(f"/lang/{language}")
    get("tor2web", "/", headers={"X-tor2web": "1"})
    from securedrop_lite.crypto import KeyUnusableError

    def expired(now: object) -> None:
        raise KeyUnusableError("expired")

    monkeypatch.setattr(services.key, "check", expired)
    clock.advance(timedelta(minutes=5))  # past the key monitor's cache
    get("offline", "/")
    return seen
