"""Codename guessing is throttled per browser session, before any key derivation runs."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from securedrop_lite.models import ThrottleCounter, WebSession
from securedrop_lite.services import Services
from securedrop_lite.services.throttle import Throttle, throttle_key
from securedrop_lite.sessions import decode_token
from tests.conftest import FrozenClock, SourceActions

WRONG = "abacus abdomen abdominal abide abiding ability ablaze"
LIMIT = 5  # the default of codename_attempts_per_minute


@pytest.fixture
def derivations(services: Services, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every codename derivation the source service runs."""
    seen: list[str] = []
    derive = services.sources.kdf._derive

    def counting(codename: str, pepper: bytes) -> bytes:
        seen.append(codename)
        return derive(codename, pepper)

    monkeypatch.setattr(services.sources.kdf, "_derive", counting)
    return seen


def _returning_source(app: Any) -> SourceActions:
    source = SourceActions(app.test_client())
    source.signup()
    source.client.get("/logout")
    source.client.delete_cookie("sdl")
    return source


def test_guesses_over_the_limit_are_refused_without_deriving_anything(
    source: SourceActions, derivations: list[str]
) -> None:
    for _ in range(LIMIT):
        assert source.login(WRONG).status_code == 401
    assert len(derivations) == 2 * LIMIT  # two derivations (id and key) per admitted guess
    refused = source.login(WRONG)
    assert refused.status_code == 429
    assert "Too many attempts" in refused.get_data(as_text=True)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert len(derivations) == 2 * LIMIT


def test_the_right_codename_is_refused_too_once_the_session_is_over_the_limit(
    app: Any, clock: FrozenClock
) -> None:
    owner = _returning_source(app)
    for _ in range(LIMIT):
        owner.login(WRONG)
    assert owner.login().status_code == 429
    clock.advance(timedelta(minutes=1))
    assert owner.login().status_code == 302


def test_other_sources_are_not_slowed_by_a_guessing_session(
    app: Any, source: SourceActions, derivations: list[str]
) -> None:
    working = SourceActions(app.test_client())
    working.signup()
    returning = _returning_source(app)
    for _ in range(LIMIT + 20):
        source.login(WRONG)
    assert source.login(WRONG).status_code == 429
    # A source already in, and a source logging in from its own session, go ahead at once.
    assert working.submit("still here").status_code == 302
    derivations.clear()
    assert returning.login().status_code == 302
    assert len(derivations) == 2


def test_a_successful_login_clears_the_sessions_count(app: Any, services: Services) -> None:
    owner = _returning_source(app)
    for _ in range(LIMIT - 1):
        owner.login(WRONG)
    assert owner.login().status_code == 302
    with services.db.session() as s:
        assert s.scalars(select(ThrottleCounter)).all() == []


def test_the_limit_is_as_configured(
    data_dir: Any, monkeypatch: pytest.MonkeyPatch, clock: FrozenClock
) -> None:
    import os

    from securedrop_lite.config import config_path, load_config
    from securedrop_lite.services import build_services
    from source_interface import create_app

    monkeypatch.setenv("SDLITE_CODENAME_ATTEMPTS_PER_MINUTE", "2")
    config = load_config(os.environ, config_path(data_dir))
    services = build_services(config, clock)
    try:
        source = SourceActions(create_app(config, services).test_client())
        assert [source.login(WRONG).status_code for _ in range(3)] == [401, 401, 429]
    finally:
        services.db.dispose()


def test_the_counter_table_holds_only_hashes(source: SourceActions, services: Services) -> None:
    source.login(WRONG)
    with services.db.session() as s:
        (row,) = s.scalars(select(ThrottleCounter)).all()
        session_rows = s.scalars(select(WebSession.token_hash)).all()
    token = decode_token(source.client.get_cookie("sdl").value)
    assert token is not None
    # Neither the cookie's token nor the session's own row key: the counter cannot be
    # joined to a session, and it is gone within a minute.
    assert row.key not in {token, *session_rows}
    assert row.key == throttle_key("codename-login", token)
    assert (row.window.second, row.window.microsecond) == (0, 0)  # the minute, not the moment


def test_parallel_attempts_under_one_key_admit_exactly_the_limit(
    services: Services, clock: FrozenClock
) -> None:
    throttle = Throttle(services.db, clock)
    key = throttle_key("test", b"one session")
    results: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def attempt() -> None:
        start.wait()
        for _ in range(5):
            admitted = throttle.admit(key, LIMIT).admitted
            with lock:
                results.append(admitted)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 40
    assert results.count(True) == LIMIT


def test_a_new_minute_starts_a_new_count_and_old_rows_go(
    services: Services, clock: FrozenClock
) -> None:
    throttle = Throttle(services.db, clock)
    first, second = throttle_key("test", b"a"), throttle_key("test", b"b")
    assert all(throttle.admit(first, 1).admitted is want for want in (True, False))
    clock.advance(timedelta(minutes=1))
    assert throttle.admit(second, 1).admitted
    with services.db.session() as s:
        keys = s.scalars(select(ThrottleCounter.key)).all()
    assert keys == [second]
    assert throttle.admit(first, 1).admitted
