"""Conversation requests hold contact details: they are destroyed after a configured time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from securedrop_lite.cli import main as sdlite
from securedrop_lite.config import Config
from securedrop_lite.models import Source, Submission
from securedrop_lite.services import Services
from securedrop_lite.services.audit import Event
from tests.conftest import FrozenClock
from tests.unit.staged_items import new_source, store_text_item

DAY = timedelta(days=1)
REQUEST = "Please call me on +41 79 555 12 34, evenings."


def _submissions(services: Services, ref: str) -> dict[str, tuple[str, bool]]:
    """File name -> (kind, tombstoned) of every submission row of a source."""
    with services.db.session() as s:
        rows = s.execute(
            select(Submission.file_name, Submission.kind, Submission.deleted)
            .join(Source)
            .where(Source.store_dir == ref)
        ).all()
    return {name: (kind, deleted) for name, kind, deleted in rows}


def _last_activity(services: Services, ref: str) -> date:
    with services.db.session() as s:
        return s.scalars(select(Source.last_activity_on).where(Source.store_dir == ref)).one()


def test_conversation_requests_are_purged_after_the_configured_time(
    services: Services, clock: FrozenClock, config: Config
) -> None:
    keep_for = timedelta(days=config.conversation_request_days)
    identity, ref = new_source(services, "a message on day 0")
    request = store_text_item(services, identity, "talk", REQUEST)
    (message,) = (name for name, (kind, _) in _submissions(services, ref).items() if kind == "msg")

    clock.advance(keep_for)  # exactly conversation_request_days old: kept
    assert services.deletion.expire_conversation_requests(keep_for) == 0
    assert services.inbox.source(ref).conversation_requested

    clock.advance(DAY)
    assert services.deletion.expire_conversation_requests(keep_for) == 1
    assert not services.inbox.source(ref).conversation_requested  # hidden at once
    report = services.deletion.purge()
    assert (report.items, report.sources, report.failed) == (1, 0, 0)
    assert _submissions(services, ref) == {message: ("msg", False)}
    assert services.store.item_names(ref) == [message]
    assert not (services.store.root / ref / request).exists()
    assert [item.file_name for item in services.inbox.source(ref).items] == [message]


@pytest.mark.parametrize("days", [1, 5, 365])
def test_a_custom_request_lifetime_is_honored_to_the_day(
    services: Services, clock: FrozenClock, days: int
) -> None:
    identity, _ = new_source(services)
    store_text_item(services, identity, "talk", REQUEST)
    clock.advance(days * DAY)
    assert services.deletion.expire_conversation_requests(timedelta(days=days)) == 0
    clock.advance(DAY)
    assert services.deletion.expire_conversation_requests(timedelta(days=days)) == 1


def test_expiring_a_request_leaves_the_sources_other_items_and_last_activity_alone(
    services: Services, clock: FrozenClock
) -> None:
    identity, ref = new_source(services, "day 0")
    store_text_item(services, identity, "talk", REQUEST)
    store_text_item(services, identity, "log", "an incident log entry of day 0")
    clock.advance(20 * DAY)
    services.submissions.submit(identity, "day 20", None)
    other, other_ref = new_source(services, "another source")
    store_text_item(services, other, "talk", "a recent request")
    before = _submissions(services, ref)
    unread_before = services.inbox.page(1).rows
    clock.advance(11 * DAY)

    assert services.deletion.expire_conversation_requests(timedelta(days=30)) == 1
    after = _submissions(services, ref)
    changed = {name for name in before if before[name] != after[name]}
    assert [before[name][0] for name in changed] == ["talk"]
    assert _last_activity(services, ref) == clock().date() - 11 * DAY
    assert services.inbox.source(other_ref).conversation_requested
    unread_after = {row.ref: row.unread for row in services.inbox.page(1).rows}
    assert unread_after[ref] == {r.ref: r.unread for r in unread_before}[ref] - 1
    assert unread_after[other_ref] == 2


def test_expiring_requests_twice_counts_them_once(services: Services, clock: FrozenClock) -> None:
    identity, _ = new_source(services)
    store_text_item(services, identity, "talk", REQUEST)
    clock.advance(40 * DAY)
    assert services.deletion.expire_conversation_requests(timedelta(days=30)) == 1
    assert services.deletion.expire_conversation_requests(timedelta(days=30)) == 0


@pytest.mark.parametrize("older_than", [timedelta(0), timedelta(hours=23), -DAY])
def test_requests_are_kept_at_least_a_day(services: Services, older_than: timedelta) -> None:
    with pytest.raises(ValueError, match="at least one day"):
        services.deletion.expire_conversation_requests(older_than)


# --- sdlite purge, on the real clock -----------------------------------------------------


def _request_made_days_ago(services: Services, clock: FrozenClock, days: int) -> tuple[str, str]:
    """Store a request today (real clock), then date it `days` back in the database."""
    clock.current = datetime.now(UTC)
    identity, ref = new_source(services, "a message")
    name = store_text_item(services, identity, "talk", REQUEST)
    with services.db.session() as s:
        s.execute(
            update(Submission)
            .where(Submission.file_name == name)
            .values(created_on=clock().date() - timedelta(days=days))
        )
    return ref, name


def test_sdlite_purge_destroys_requests_older_than_the_setting(
    services: Services,
    clock: FrozenClock,
    config: Config,
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    days = config.conversation_request_days
    old_ref, old_request = _request_made_days_ago(services, clock, days + 1)
    kept_ref, kept_request = _request_made_days_ago(services, clock, days)

    assert sdlite(["purge", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert f"Expired 1 conversation request(s) older than {days} day(s)." in out
    assert "destroyed 0 source(s) and 1 separate item(s)" in out
    assert old_request not in services.store.item_names(old_ref)
    assert [kind for kind, _ in _submissions(services, old_ref).values()] == ["msg"]
    assert len(services.store.item_names(old_ref)) == 1
    assert kept_request in services.store.item_names(kept_ref)
    assert services.inbox.source(kept_ref).conversation_requested
    assert Event.PURGE.value in [event for event, _ in services.audit.page(1).events]


def test_sdlite_purge_honors_a_custom_conversation_request_days(
    services: Services,
    clock: FrozenClock,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    old_ref, old_request = _request_made_days_ago(services, clock, 8)
    kept_ref, kept_request = _request_made_days_ago(services, clock, 7)
    assert sdlite(["purge", "--data-dir", str(data_dir)]) == 0  # the default, 30 days
    assert old_request in services.store.item_names(old_ref)

    monkeypatch.setenv("SDLITE_CONVERSATION_REQUEST_DAYS", "7")
    assert sdlite(["purge", "--data-dir", str(data_dir)]) == 0
    assert "Expired 1 conversation request(s) older than 7 day(s)." in capsys.readouterr().out
    assert old_request not in services.store.item_names(old_ref)
    assert not services.inbox.source(old_ref).conversation_requested
    assert kept_request in services.store.item_names(kept_ref)
