"""Sealed server-side sessions: useless without the cookie's token, and they expire."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from securedrop_lite.models import WebSession
from securedrop_lite.services import Services
from securedrop_lite.sessions import decode_token, encode_token
from tests.conftest import FrozenClock

SECRET = "derived-key-seed-value-0123456789"


def _rows(services: Services) -> list[WebSession]:
    with services.db.session() as s:
        return list(s.scalars(select(WebSession)))


def test_session_row_holds_no_plaintext_and_no_token(services: Services) -> None:
    token = services.sessions.new_token()
    services.sessions.save(token, {"source": {"key_seed": SECRET}})
    (row,) = _rows(services)
    assert SECRET.encode() not in row.sealed
    assert token not in row.sealed
    assert token != row.token_hash
    assert encode_token(token).encode() not in row.sealed


def test_session_loads_only_with_its_token(services: Services) -> None:
    token = services.sessions.new_token()
    services.sessions.save(token, {"value": SECRET})
    loaded = services.sessions.load(token)
    assert loaded is not None
    assert loaded["value"] == SECRET
    assert services.sessions.load(services.sessions.new_token()) is None


def test_session_expires_absolutely(services: Services, clock: FrozenClock) -> None:
    token = services.sessions.new_token()
    services.sessions.save(token, {"value": 1})
    clock.advance(timedelta(hours=1, minutes=59))
    data = services.sessions.load(token)
    assert data is not None
    services.sessions.save(token, data)  # activity does not extend an absolute lifetime
    clock.advance(timedelta(minutes=2))
    assert services.sessions.load(token) is None
    assert _rows(services) == []


def test_session_row_keeps_only_the_expiry_day(services: Services, clock: FrozenClock) -> None:
    services.sessions.save(services.sessions.new_token(), {"value": 1})
    (row,) = _rows(services)
    assert row.expires_on == (clock() + timedelta(hours=2)).date()


def test_tampered_session_is_rejected(services: Services) -> None:
    token = services.sessions.new_token()
    services.sessions.save(token, {"value": 1})
    with services.db.session() as s:
        row = s.scalars(select(WebSession)).one()
        row.sealed = row.sealed[:-1] + bytes([row.sealed[-1] ^ 1])
    assert services.sessions.load(token) is None


def test_purge_removes_sessions_past_their_day(services: Services, clock: FrozenClock) -> None:
    services.sessions.save(services.sessions.new_token(), {"value": 1})
    clock.advance(timedelta(days=2))
    assert services.sessions.purge_expired() == 1
    assert _rows(services) == []


@pytest.mark.parametrize("value", ["", "short", "!" * 43, "a" * 44, "A" * 42 + "="])
def test_malformed_cookie_values_are_not_tokens(value: str) -> None:
    assert decode_token(value) is None


def test_stale_sessions_are_purged_as_new_ones_are_saved(
    services: Services, clock: FrozenClock
) -> None:
    services.sessions.save(services.sessions.new_token(), {"value": "old"})
    clock.advance(timedelta(days=3))
    services.sessions.save(services.sessions.new_token(), {"value": "new"})
    (row,) = _rows(services)
    assert row.expires_on == (clock() + timedelta(hours=2)).date()
