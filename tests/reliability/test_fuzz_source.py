"""Fuzz every route of the source interface: a plain page for any input, and nothing changed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import event, given, reject
from hypothesis import strategies as st
from sqlalchemy import select

from securedrop_lite.codename import MAX_CODENAME_CHARS, eff_large_wordlist
from securedrop_lite.config import Config
from securedrop_lite.models import Source
from securedrop_lite.services import Services
from securedrop_lite.services.sources import SourceIdentity
from securedrop_lite.sessions import encode_token
from securedrop_lite.web.app import message_form_bytes
from source_interface.identity import encode
from tests.conftest import QUICK_EXIT_URL, SourceActions, csrf_token
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
    FuzzRequest,
    fuzz_requests,
    routes_of,
)

# What a request with a valid CSRF token may change: a login attempt is counted whatever
# its outcome, the rest only when accepted (status < 400).
ATTEMPT_EFFECTS = {"main.login": frozenset({"throttle_counters"})}
ACCEPTED_EFFECTS = {
    "main.submit": frozenset({"sources", "submissions", "store"}),
    "main.request_conversation": frozenset({"sources", "submissions", "store"}),
    "main.log_new": frozenset({"sources", "log_entries"}),
    "main.log_revise": frozenset({"sources", "log_entries"}),
    "main.log_delete": frozenset({"log_entries"}),
    "main.delete_reply": frozenset({"replies", "store"}),
    "main.create": frozenset({"sources", "store"}),
}
# Withdrawing takes nothing but the token: with one, it deletes the source every later
# example logs in as, and garbage fields would test nothing.
NEVER_WITH_VALID_CSRF = {"main.withdraw"}
UPLOAD_LIMIT = 4096
MESSAGE_CHARS = 2000


@pytest.fixture(autouse=True)
def _small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small body limits, so that oversized bodies are cheap to send."""
    monkeypatch.setenv("SDLITE_MAX_UPLOAD_BYTES", str(UPLOAD_LIMIT))
    monkeypatch.setenv("SDLITE_MAX_MESSAGE_CHARS", str(MESSAGE_CHARS))


@dataclass
class Populated:
    """A source with a message, a file, a reply and an incident-log entry."""

    codename: str
    identity: SourceIdentity
    log_ref: str


@pytest.fixture
def populated(source: SourceActions, services: Services) -> Populated:
    codename = source.signup()
    assert source.submit("first message", (b"a file", "notes.txt")).status_code == 302
    page = source.client.get("/log/new").get_data(as_text=True)
    entry = {"csrf_token": csrf_token(page), "what": "it happened", "when": "monday"}
    saved = source.client.post("/log/new", data=entry)
    assert saved.status_code == 302, saved.status_code
    with services.db.session() as s:
        ref = s.scalars(select(Source.store_dir)).one()
    services.replies.reply(ref, "a reply from the ombuds")
    log_ref = saved.headers["Location"].rsplit("/", 1)[1]
    return Populated(codename, services.sources.login(codename), log_ref)


@pytest.fixture
def stored(services: Services, config: Config) -> StoredData:
    return StoredData(services, config)


def source_target(
    app: Any, services: Services, stored: StoredData, identity: SourceIdentity | None
) -> Target:
    def new_session() -> str | None:
        """Seal what /login puts in a session, afresh for each example: a request that
        ends its session (/logout, /exit) does not end the next example's."""
        if identity is None:
            return None
        token = services.sessions.new_token()
        services.sessions.save(token, {"source": encode(identity)})
        return encode_token(token)

    return Target(app, "sdl", "sdlj", "/login", new_session, stored, (QUICK_EXIT_URL,))


def may_change(endpoint: str | None, status: int) -> frozenset[str]:
    attempt = ATTEMPT_EFFECTS.get(endpoint or "", frozenset())
    accepted = ACCEPTED_EFFECTS.get(endpoint or "", frozenset())
    return attempt | accepted if status < 400 else attempt


def known_values(populated: Populated) -> dict[str, list[str]]:
    return {
        "ref": [populated.log_ref],
        "version": ["1"],
        "code": ["en", "es"],
        "slug": ["about", "options", "referrals"],
        "filename": ["style.css"],
    }


@pytest.mark.parametrize("visitor", ["anonymous", "logged-in"])
@given(data=st.data())
def test_source_routes_answer_malformed_requests_with_plain_pages_and_change_nothing(
    visitor: str,
    data: Any,
    app: Any,
    services: Services,
    stored: StoredData,
    populated: Populated,
) -> None:
    identity = populated.identity if visitor == "logged-in" else None
    target = source_target(app, services, stored, identity)
    request = data.draw(fuzz_requests(routes_of(app), known_values(populated)))
    if request.carries_valid_csrf and endpoint_of(app, request) in NEVER_WITH_VALID_CSRF:
        reject()
    answer = fuzz_once(target, request, may_change)
    event(f"{answer.endpoint} {request.carries_valid_csrf=} {answer.status}")


def codenames(real: str) -> Any:
    """Typed codenames: the real one retyped, nearly it, or nothing like it."""
    words = real.split()
    wordlist = eff_large_wordlist().words
    separators = st.sampled_from([" ", "  ", "\t", "\n", "\u00a0", "\u3000", "\u200b", "-", ""])

    @st.composite
    def retyped(draw: Any) -> str:
        cased = [draw(st.sampled_from([w, w.upper(), w.title()])) for w in words]
        joined = "".join(w + draw(separators) for w in cased[:-1]) + cased[-1]
        return draw(st.sampled_from(["", " ", "\t"])) + joined + draw(st.sampled_from(["", "\n"]))

    @st.composite
    def changed_word(draw: Any) -> str:
        index = draw(st.integers(0, len(words) - 1))
        other = draw(st.sampled_from(wordlist).filter(lambda w: w != words[index]))
        return " ".join(words[:index] + [other] + words[index + 1 :])

    @st.composite
    def confusable(draw: Any) -> str:
        lookalikes = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "i": "\u0456", "c": "\u0441"}
        swaps = [(i, c) for i, c in enumerate(real) if c in lookalikes]
        if not swaps:
            return real.replace(real[0], chr(ord(real[0]) + 0xFEE0), 1)  # fullwidth
        i, c = draw(st.sampled_from(swaps))
        return real[:i] + lookalikes[c] + real[i + 1 :]

    return st.one_of(
        retyped(),
        changed_word(),
        confusable(),
        st.sampled_from([" ".join(words[:-1]), real + " " + words[0], real + real, "", "\x00"]),
        st.builds(lambda n: (real + " ") * n, st.integers(2, 200)),
        st.builds(lambda n: real + " " + "a" * n, st.integers(1, 20_000)),
        st.text(max_size=200),
    )


@given(data=st.data())
def test_only_the_real_codename_however_spaced_or_cased_logs_in(
    data: Any, app: Any, stored: StoredData, populated: Populated
) -> None:
    typed = data.draw(codenames(populated.codename))
    client = app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    before = stored.snapshot()
    response = client.post("/login", data={"csrf_token": token, "codename": typed})
    same_words = typed.lower().split() == populated.codename.split()
    expected = 302 if same_words and len(typed) <= 2 * MAX_CODENAME_CHARS else 401
    malformed = typed == "" or "\x00" in typed  # an empty field, or a NUL in any field
    assert response.status_code == (400 if malformed else expected)
    # The attempt is counted for this browser session, and only that.
    assert changed(before, stored.snapshot()) <= {"throttle_counters"}


def test_every_source_route_answers_an_oversized_body_with_a_413_page(
    app: Any, services: Services, config: Config, stored: StoredData, populated: Populated
) -> None:
    target = source_target(app, services, stored, populated.identity)
    size = UPLOAD_LIMIT + message_form_bytes(config) + 1
    values = {name: found[0] for name, found in known_values(populated).items()}
    requests = oversized_requests(routes_of(app), values, size)
    failures = failures_of(target, requests, may_change, oversized=True)
    assert not failures, "\n".join(failures)


def test_every_odd_header_gets_a_plain_page_and_changes_nothing(
    app: Any, services: Services, stored: StoredData, populated: Populated
) -> None:
    form = f"csrf_token={CSRF_MARK}&codename=x".encode()
    target = source_target(app, services, stored, None)  # the form's own session only
    failures = failures_of(target, odd_header_requests("/login", form), may_change)
    assert not failures, "\n".join(failures)


def test_a_nul_in_any_path_argument_or_field_gets_a_plain_page(
    app: Any, services: Services, stored: StoredData, populated: Populated
) -> None:
    """PostgreSQL refuses NUL in text, where SQLite stores it: either way, a plain page."""
    target = source_target(app, services, stored, populated.identity)
    values = {name: found[0] for name, found in known_values(populated).items()}
    requests = [
        request
        for request in nul_requests(routes_of(app), values, {"number": "99"})
        if endpoint_of(app, request) not in NEVER_WITH_VALID_CSRF
    ]
    failures = failures_of(target, requests, may_change)
    assert not failures, "\n".join(failures)


def test_the_stored_data_check_sees_an_accepted_submission(
    app: Any, services: Services, stored: StoredData, populated: Populated
) -> None:
    """The no-change check can fail: a valid submission changes what it names, no more."""
    target = source_target(app, services, stored, populated.identity)
    form = f"csrf_token={CSRF_MARK}&msg=hello".encode()
    kind = "application/x-www-form-urlencoded"
    submission = FuzzRequest("POST", "/submit", (), form, kind, None, "session", "")
    with pytest.raises(AssertionError, match=r"changed \['sources', 'store', 'submissions'\]"):
        fuzz_once(target, submission, lambda endpoint, status: frozenset())
    assert fuzz_once(target, submission, may_change).status == 302
