"""Deletion: tombstones hide at once, a purge destroys files and rows and finishes after a crash."""

from __future__ import annotations

import dataclasses
import pathlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from securedrop_lite.cli import main as sdlite
from securedrop_lite.models import Reply, Source, Submission
from securedrop_lite.services import Services
from securedrop_lite.services.audit import Event
from securedrop_lite.services.deletion import PurgeReport
from securedrop_lite.services.inbox import NoSuchSource
from securedrop_lite.services.sources import LoginFailed, SourceIdentity, UnknownSource
from securedrop_lite.store import Store
from tests.conftest import FrozenClock

DAY = timedelta(days=1)


@dataclasses.dataclass
class Made:
    codename: str
    identity: SourceIdentity
    ref: str
    source_id: int


def _new_source(services: Services, *messages: str, replies: tuple[str, ...] = ()) -> Made:
    """Create a source that sends each message, then receives each reply."""
    codename, identity = services.sources.new_identity()
    services.sources.create(identity)
    for message in messages:
        services.submissions.submit(identity, message, None)
    with services.db.session() as s:
        ref, source_id = s.execute(
            select(Source.store_dir, Source.id).where(Source.lookup_id == identity.lookup_id)
        ).one()
    for text in replies:
        services.replies.reply(ref, text)
    return Made(codename, identity, ref, source_id)


def _rows(services: Services, source_id: int) -> dict[str, int]:
    """Count the rows that belong to a source, tombstoned or not."""
    with services.db.session() as s:
        return {
            "sources": s.scalar(select(func.count()).where(Source.id == source_id)) or 0,
            "submissions": s.scalar(select(func.count()).where(Submission.source_id == source_id))
            or 0,
            "replies": s.scalar(select(func.count()).where(Reply.source_id == source_id)) or 0,
        }


NOTHING = {"sources": 0, "submissions": 0, "replies": 0}


def _files(services: Services, ref: str) -> list[str]:
    return services.store.item_names(ref)


def _gone(services: Services, made: Made) -> bool:
    return (
        _rows(services, made.source_id) == NOTHING and not (services.store.root / made.ref).exists()
    )


# --- deleting from the inbox ----------------------------------------------------------


def test_deleting_a_source_leaves_no_file_no_row_and_no_reply(services: Services) -> None:
    made = _new_source(services, "one", "two", replies=("a reply",))
    assert _rows(services, made.source_id) == {"sources": 1, "submissions": 2, "replies": 1}
    assert len(_files(services, made.ref)) == 3
    services.inbox.delete_source(made.ref)
    assert _rows(services, made.source_id) == NOTHING
    assert not (services.store.root / made.ref).exists()


def test_deleting_a_source_leaves_other_sources_alone(services: Services) -> None:
    doomed = _new_source(services, "one", replies=("a reply",))
    kept = _new_source(services, "two", replies=("another reply",))
    services.inbox.delete_source(doomed.ref)
    assert _rows(services, kept.source_id) == {"sources": 1, "submissions": 1, "replies": 1}
    assert len(_files(services, kept.ref)) == 2
    assert [row.ref for row in services.inbox.page(1).rows] == [kept.ref]


def test_delete_items_removes_their_files_and_rows(services: Services) -> None:
    made = _new_source(services, "one", "two", "three", replies=("a reply",))
    one, two, three, reply = _files(services, made.ref)
    assert services.inbox.delete_items(made.ref, [two, reply]) == 2
    assert _files(services, made.ref) == [one, three]
    assert [i.file_name for i in services.inbox.source(made.ref).items] == [one, three]
    assert _rows(services, made.source_id) == {"sources": 1, "submissions": 2, "replies": 0}
    assert services.sources.summary(made.identity).replies == []


def test_delete_items_cannot_reach_another_sources_items(services: Services) -> None:
    mine = _new_source(services, "mine")
    theirs = _new_source(services, "theirs", replies=("their reply",))
    their_files = _files(services, theirs.ref)
    assert services.inbox.delete_items(mine.ref, their_files) == 0
    assert _files(services, theirs.ref) == their_files
    assert _rows(services, theirs.source_id) == {"sources": 1, "submissions": 1, "replies": 1}


def test_delete_items_with_unknown_names_deletes_nothing(services: Services) -> None:
    made = _new_source(services, "one")
    assert services.inbox.delete_items(made.ref, ["9-no-such-msg.gpg", "../sdlite.db"]) == 0
    assert len(_files(services, made.ref)) == 1


def test_item_numbers_are_not_reused_after_a_deletion(services: Services) -> None:
    made = _new_source(services, "one", "two")
    services.inbox.delete_items(made.ref, _files(services, made.ref)[1:])
    services.submissions.submit(made.identity, "three", None)
    numbers = [int(name.split("-", 1)[0]) for name in _files(services, made.ref)]
    assert numbers == [1, 3]


def test_purge_overwrites_each_file_before_unlinking_it(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = _new_source(services, "a message that must not survive on the disk")
    (name,) = _files(services, made.ref)
    original = services.store.path_for(made.ref, name).read_bytes()
    last_contents: dict[str, bytes] = {}
    real_unlink = pathlib.Path.unlink

    def spying_unlink(path: pathlib.Path, missing_ok: bool = False) -> None:
        if path.name == name:
            last_contents[name] = path.read_bytes()
        real_unlink(path, missing_ok=missing_ok)

    monkeypatch.setattr(pathlib.Path, "unlink", spying_unlink)
    services.inbox.delete_items(made.ref, [name])
    assert len(last_contents[name]) == len(original)
    assert last_contents[name] != original


# --- tombstones -----------------------------------------------------------------------


def test_tombstoned_sources_are_invisible_at_once(services: Services) -> None:
    made = _new_source(services, "one", replies=("a reply",))
    services.deletion.tombstone_source(made.source_id)
    assert services.inbox.page(1).rows == []
    with pytest.raises(NoSuchSource):
        services.inbox.source(made.ref)
    with pytest.raises(LoginFailed):
        services.sources.login(made.codename)
    with pytest.raises(UnknownSource):
        services.sources.summary(made.identity)
    with pytest.raises(UnknownSource):
        services.submissions.submit(made.identity, "one more", None)
    with pytest.raises(NoSuchSource):
        services.replies.reply(made.ref, "another reply")
    assert len(_files(services, made.ref)) == 2  # nothing new was stored


def test_tombstoned_items_are_invisible_at_once(services: Services) -> None:
    made = _new_source(services, "one", "two", replies=("a reply",))
    one, two, reply = _files(services, made.ref)
    assert services.deletion.tombstone_items(made.source_id, [two, reply]) == 2
    assert [i.file_name for i in services.inbox.source(made.ref).items] == [one]
    assert services.inbox.page(1).rows[0].unread == 1
    summary = services.sources.summary(made.identity)
    assert (summary.submission_count, summary.replies) == (1, [])


def test_tombstoning_twice_counts_once(services: Services) -> None:
    made = _new_source(services, "one")
    names = _files(services, made.ref)
    assert services.deletion.tombstone_items(made.source_id, names) == 1
    assert services.deletion.tombstone_items(made.source_id, names) == 0


def test_purge_destroys_only_what_is_tombstoned_and_reports_it(services: Services) -> None:
    partly = _new_source(services, "one", "two", replies=("a reply",))
    doomed = _new_source(services, "three", "four")
    kept = _new_source(services, "five")
    services.deletion.tombstone_items(partly.source_id, _files(services, partly.ref)[1:])
    services.deletion.tombstone_source(doomed.source_id)
    assert services.deletion.purge() == PurgeReport(sources=1, items=2)
    assert len(_files(services, partly.ref)) == 1
    assert _gone(services, doomed)
    assert len(_files(services, kept.ref)) == 1
    assert services.deletion.purge() == PurgeReport()


@pytest.mark.parametrize("failing_call", [1, 2, 3, 4])
def test_purge_killed_midway_completes_on_next_run(
    services: Services, monkeypatch: pytest.MonkeyPatch, failing_call: int
) -> None:
    partly = _new_source(services, "kept", "deleted", replies=("deleted reply",))
    doomed = _new_source(services, "one", "two")
    kept_name, *doomed_names = _files(services, partly.ref)
    services.deletion.tombstone_items(partly.source_id, doomed_names)
    services.deletion.tombstone_source(doomed.source_id)

    calls = 0
    real_delete_item = Store.delete_item

    def crashing_delete_item(store: Store, source_dir: str, file_name: str) -> None:
        nonlocal calls
        calls += 1
        if calls == failing_call:
            raise KeyboardInterrupt("killed")  # like a SIGINT between two files
        real_delete_item(store, source_dir, file_name)

    monkeypatch.setattr(Store, "delete_item", crashing_delete_item)
    with pytest.raises(KeyboardInterrupt):
        services.deletion.purge()
    monkeypatch.undo()
    # Whatever was left is still hidden.
    assert [i.file_name for i in services.inbox.source(partly.ref).items] == [kept_name]
    assert [row.ref for row in services.inbox.page(1).rows] == [partly.ref]

    services.deletion.purge()
    assert _files(services, partly.ref) == [kept_name]
    assert _rows(services, partly.source_id) == {"sources": 1, "submissions": 1, "replies": 0}
    assert _gone(services, doomed)


def test_sdlite_purge_finishes_a_deletion_that_was_only_tombstoned(
    services: Services, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    partly = _new_source(services, "kept", "deleted", replies=("deleted reply",))
    doomed = _new_source(services, "one", "two")
    kept_name, *doomed_names = _files(services, partly.ref)
    services.deletion.tombstone_items(partly.source_id, doomed_names)
    services.deletion.tombstone_source(doomed.source_id)  # then the process died

    assert sdlite(["purge", "--data-dir", str(data_dir)]) == 0
    assert "destroyed 1 source(s) and 2 separate item(s)" in capsys.readouterr().out
    assert _files(services, partly.ref) == [kept_name]
    assert _gone(services, doomed)
    assert Event.PURGE.value in [event for event, _ in services.audit.page(1).events]


# --- expiry ---------------------------------------------------------------------------


def test_expire_removes_sources_idle_longer_than_the_limit(
    services: Services, clock: FrozenClock
) -> None:
    idle = _new_source(services, "long ago")
    clock.advance(20 * DAY)
    active = _new_source(services, "lately")
    clock.advance(10 * DAY)
    assert services.deletion.expire(timedelta(days=30)) == 0  # 30 days idle, not more
    clock.advance(DAY)
    assert services.deletion.expire(timedelta(days=30)) == 1
    services.deletion.purge()
    assert _gone(services, idle)
    assert [row.ref for row in services.inbox.page(1).rows] == [active.ref]


def test_a_new_submission_keeps_a_source_from_expiring(
    services: Services, clock: FrozenClock
) -> None:
    made = _new_source(services, "long ago")
    clock.advance(25 * DAY)
    services.submissions.submit(made.identity, "still here", None)
    clock.advance(25 * DAY)
    assert services.deletion.expire(timedelta(days=30)) == 0


def test_unused_sources_expire_after_a_day_but_not_before(
    services: Services, clock: FrozenClock
) -> None:
    unused = _new_source(services)
    used = _new_source(services, "hello")
    assert services.deletion.expire(None) == 0
    clock.advance(DAY)
    assert services.deletion.expire(None) == 0
    assert services.sources.login(unused.codename) == unused.identity
    clock.advance(DAY)
    assert services.deletion.expire(None) == 1
    services.deletion.purge()
    assert _rows(services, unused.source_id) == NOTHING
    with pytest.raises(LoginFailed):
        services.sources.login(unused.codename)
    assert _rows(services, used.source_id)["sources"] == 1


def test_expire_without_a_limit_keeps_sources_that_submitted(
    services: Services, clock: FrozenClock
) -> None:
    made = _new_source(services, "hello")
    clock.advance(3650 * DAY)
    assert services.deletion.expire(None) == 0
    assert _rows(services, made.source_id)["sources"] == 1


def _start_days_ago(clock: FrozenClock, days: int) -> None:
    """The CLI runs on the real clock: place the frozen one relative to it."""
    clock.current = datetime.now(UTC) - timedelta(days=days)


def test_sdlite_purge_older_than_days_expires_idle_sources(
    services: Services, clock: FrozenClock, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _start_days_ago(clock, 40)
    idle = _new_source(services, "long ago", replies=("a reply",))
    _start_days_ago(clock, 5)
    active = _new_source(services, "lately")
    assert sdlite(["purge", "--data-dir", str(data_dir), "--older-than", "30"]) == 0
    assert "Expired 1 source(s); destroyed 1 source(s)" in capsys.readouterr().out
    assert _gone(services, idle)
    assert _rows(services, active.source_id)["submissions"] == 1


def test_sdlite_purge_uses_the_retention_setting_when_no_limit_is_given(
    services: Services, clock: FrozenClock, data_dir: Path
) -> None:
    _start_days_ago(clock, 40)
    idle = _new_source(services, "long ago")
    assert sdlite(["purge", "--data-dir", str(data_dir)]) == 0
    assert _rows(services, idle.source_id)["sources"] == 1  # retention 0: keep
    services.settings.update(dataclasses.replace(services.settings.current(), retention_days=30))
    assert sdlite(["purge", "--data-dir", str(data_dir)]) == 0
    assert _gone(services, idle)


@pytest.mark.parametrize("days", ["0", "-3"])
def test_sdlite_purge_refuses_fewer_than_one_day(
    services: Services, data_dir: Path, capsys: pytest.CaptureFixture[str], days: str
) -> None:
    made = _new_source(services, "hello")
    assert sdlite(["purge", "--data-dir", str(data_dir), "--older-than", days]) == 2
    assert "at least 1" in capsys.readouterr().err
    assert _rows(services, made.source_id)["sources"] == 1


# --- the database -----------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_sqlite_secure_delete_is_on(services: Services) -> None:
    with services.db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
