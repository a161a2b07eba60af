"""The ombuds' inbox: who wrote, in what order, what is unread, and what to download."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from securedrop_lite.codename import designation_slug
from securedrop_lite.models import Source, Submission
from securedrop_lite.services import Services
from securedrop_lite.services.inbox import NoSuchItem, NoSuchSource, Selection
from securedrop_lite.services.sources import SourceIdentity
from tests.conftest import FrozenClock

DAY = timedelta(days=1)


def _ref(services: Services, identity: SourceIdentity) -> str:
    with services.db.session() as s:
        return s.scalars(
            select(Source.store_dir).where(Source.lookup_id == identity.lookup_id)
        ).one()


def _new_source(services: Services, *messages: str) -> tuple[SourceIdentity, str]:
    """Create a source that sends each message in turn; return its identity and ref."""
    _, identity = services.sources.new_identity()
    services.sources.create(identity)
    for message in messages:
        services.submissions.submit(identity, message, None)
    return identity, _ref(services, identity)


def _submit_file(services: Services, identity: SourceIdentity, data: bytes) -> None:
    upload = services.submissions.begin_upload("evidence.pdf")
    upload.write(data)
    services.submissions.submit(identity, "", upload)


def _refs(services: Services) -> list[str]:
    return [row.ref for row in services.inbox.page(1).rows]


def _file_names(services: Services, ref: str) -> list[str]:
    return [item.file_name for item in services.inbox.source(ref).items]


def _read(open_item: Callable[[], object]) -> bytes:
    with open_item() as f:  # type: ignore[attr-defined]
        return f.read()  # type: ignore[no-any-return]


# --- the list of sources --------------------------------------------------------------


def test_sources_that_never_submitted_are_not_listed(services: Services) -> None:
    _, silent = _new_source(services)
    _, talking = _new_source(services, "my supervisor keeps shouting at me")
    page = services.inbox.page(1)
    assert [row.ref for row in page.rows] == [talking]
    assert page.total == 1
    with pytest.raises(NoSuchSource):
        services.inbox.source(silent)


def test_empty_inbox_is_one_empty_page(services: Services) -> None:
    page = services.inbox.page(1)
    assert (page.rows, page.number, page.pages, page.total) == ([], 1, 1, 0)


def test_inbox_row_shows_designation_and_last_activity(
    services: Services, clock: FrozenClock
) -> None:
    _, identity = services.sources.new_identity()
    designation = services.sources.create(identity)
    clock.advance(2 * DAY)
    services.submissions.submit(identity, "hello", None)
    (row,) = services.inbox.page(1).rows
    assert row.designation == designation
    assert row.last_activity_on == clock().date()
    assert row.starred is False


def test_starred_sources_come_first_then_the_latest_activity(
    services: Services, clock: FrozenClock
) -> None:
    _, oldest = _new_source(services, "first")
    clock.advance(DAY)
    _, middle = _new_source(services, "second")
    clock.advance(DAY)
    _, newest = _new_source(services, "third")
    assert _refs(services) == [newest, middle, oldest]
    services.inbox.set_starred(oldest, True)
    assert _refs(services) == [oldest, newest, middle]
    assert [row.starred for row in services.inbox.page(1).rows] == [True, False, False]
    services.inbox.set_starred(oldest, False)
    assert _refs(services) == [newest, middle, oldest]


def test_a_new_submission_moves_a_source_up(services: Services, clock: FrozenClock) -> None:
    early, early_ref = _new_source(services, "first")
    clock.advance(DAY)
    _, late_ref = _new_source(services, "second")
    clock.advance(DAY)
    services.submissions.submit(early, "more", None)
    assert _refs(services) == [early_ref, late_ref]


def test_inbox_counts_unread_submissions(services: Services) -> None:
    identity, ref = _new_source(services, "one", "two")
    _submit_file(services, identity, b"%PDF-1.7 a file")
    assert services.inbox.page(1).rows[0].unread == 3
    first = _file_names(services, ref)[0]
    services.inbox.mark_seen(ref, [first])
    assert services.inbox.page(1).rows[0].unread == 2
    services.inbox.mark_seen(ref)
    assert services.inbox.page(1).rows[0].unread == 0


def test_replies_are_not_counted_unread(services: Services) -> None:
    _, ref = _new_source(services, "one")
    services.replies.reply(ref, "We read your message.")
    assert services.inbox.page(1).rows[0].unread == 1


def test_awaiting_days_count_from_the_first_submission_until_a_reply(
    services: Services, clock: FrozenClock
) -> None:
    identity, ref = _new_source(services, "please answer")
    assert services.inbox.page(1).rows[0].awaiting_days == 0
    clock.advance(3 * DAY)
    services.submissions.submit(identity, "still waiting", None)
    assert services.inbox.page(1).rows[0].awaiting_days == 3
    assert services.inbox.source(ref).awaiting_days == 3
    services.replies.reply(ref, "We hear you.")
    assert services.inbox.page(1).rows[0].awaiting_days is None
    assert services.inbox.source(ref).awaiting_days is None
    clock.advance(DAY)
    services.submissions.submit(identity, "thank you", None)
    assert services.inbox.page(1).rows[0].awaiting_days is None


def test_inbox_pages_hold_at_most_per_page_sources(services: Services, clock: FrozenClock) -> None:
    refs = []
    for text in ("a", "b", "c"):
        refs.append(_new_source(services, text)[1])
        clock.advance(DAY)
    first, second = services.inbox.page(1, per_page=2), services.inbox.page(2, per_page=2)
    assert [row.ref for row in first.rows] == refs[:0:-1]
    assert [row.ref for row in second.rows] == refs[:1]
    assert (first.number, first.pages, first.total) == (1, 2, 3)
    assert (second.number, second.pages, second.total) == (2, 2, 3)


@pytest.mark.parametrize(("asked", "given"), [(0, 1), (-5, 1), (3, 2), (10_000, 2)])
def test_a_page_number_out_of_range_gives_the_nearest_page(
    services: Services, asked: int, given: int
) -> None:
    for text in ("a", "b", "c"):
        _new_source(services, text)
    assert services.inbox.page(asked, per_page=2).number == given


def _insert_sources(services: Services, start: int, count: int) -> None:
    """Insert sources with one unread message each, without the KDF: only rows count here."""
    today = services.clock().date()
    with services.db.session() as s:
        s.add_all(
            Source(
                lookup_id=f"{n:064x}",
                store_dir=f"{n:032x}",
                designation=f"bulk source{n}",
                public_key=bytes(32),
                created_on=today - (n % 90) * DAY,
                last_activity_on=today - (n % 30) * DAY,
                item_counter=1,
                first_submission_on=today - (n % 30) * DAY,
                starred=n % 97 == 0,
                submissions=[
                    Submission(
                        number=1,
                        kind="msg",
                        file_name=f"1-bulk-source{n}-msg.gpg",
                        size=600,
                        created_on=today - (n % 30) * DAY,
                    )
                ],
            )
            for n in range(start, start + count)
        )


def _statements_for(services: Services, action: Callable[[], object]) -> list[str]:
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(services.db.engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        event.remove(services.db.engine, "before_cursor_execute", record)
    return statements


def test_inbox_issues_the_same_number_of_sql_queries_for_10_and_1000_sources(
    services: Services,
) -> None:
    _insert_sources(services, 1, 10)
    for_ten = _statements_for(services, lambda: services.inbox.page(1))
    _insert_sources(services, 11, 990)
    pages = []
    for_thousand = _statements_for(services, lambda: pages.append(services.inbox.page(1)))
    assert len(for_thousand) == len(for_ten)
    assert 1 <= len(for_ten) <= 2
    (page,) = pages
    assert (len(page.rows), page.total, page.pages) == (50, 1000, 20)
    assert all(row.unread == 1 for row in page.rows)
    assert page.rows[0].starred


# --- one source -----------------------------------------------------------------------


def test_source_view_lists_messages_files_and_replies_oldest_first(
    services: Services, clock: FrozenClock
) -> None:
    identity, ref = _new_source(services, "a message")
    _submit_file(services, identity, b"%PDF-1.7 a file")
    clock.advance(DAY)
    services.replies.reply(ref, "a reply")
    view = services.inbox.source(ref)
    slug = designation_slug(view.designation)
    assert [(i.file_name, i.kind) for i in view.items] == [
        (f"1-{slug}-msg.gpg", "message"),
        (f"2-{slug}-doc.gpg", "file"),
        (f"3-{slug}-reply.gpg", "reply"),
    ]
    assert [i.seen for i in view.items] == [False, False, True]
    assert view.items[2].created_on == clock().date()
    for item in view.items:
        assert item.size == services.store.path_for(ref, item.file_name).stat().st_size


def test_source_view_puts_item_ten_after_item_nine(services: Services) -> None:
    _, ref = _new_source(services, *(f"message {n}" for n in range(1, 11)))
    numbers = [int(name.split("-", 1)[0]) for name in _file_names(services, ref)]
    assert numbers == list(range(1, 11))


@pytest.mark.parametrize(
    "bad_ref",
    [
        "../x",
        "",
        "0" * 32,
        "0" * 31,
        "0" * 33,
        "../" + "0" * 29,
        "abcdefabcdefabcdefabcdefabcdefab/..",
        "ABCDEFABCDEFABCDEFABCDEFABCDEFAB",
    ],
)
def test_unknown_or_malformed_refs_raise_no_such_source(services: Services, bad_ref: str) -> None:
    inbox = services.inbox
    verbs: list[Callable[[], object]] = [
        lambda: inbox.source(bad_ref),
        lambda: inbox.set_starred(bad_ref, True),
        lambda: inbox.mark_seen(bad_ref),
        lambda: inbox.entries(bad_ref, Selection.ALL, []),
        lambda: inbox.item(bad_ref, "1-brave-otter-msg.gpg"),
        lambda: inbox.delete_items(bad_ref, ["1-brave-otter-msg.gpg"]),
        lambda: inbox.delete_source(bad_ref),
    ]
    for verb in verbs:
        with pytest.raises(NoSuchSource):
            verb()


def test_a_ref_in_upper_case_is_not_the_same_source(services: Services) -> None:
    _, ref = _new_source(services, "a message")
    with pytest.raises(NoSuchSource):
        services.inbox.source(ref.upper())


# --- downloads ------------------------------------------------------------------------


def test_entries_all_returns_every_item_and_marks_them_seen(services: Services) -> None:
    _, ref = _new_source(services, "one", "two")
    services.replies.reply(ref, "a reply")
    names = _file_names(services, ref)
    with services.inbox.entries(ref, Selection.ALL, []) as entries:
        folder = designation_slug(services.inbox.source(ref).designation)
        assert [e.arcname for e in entries] == [f"{folder}/{name}" for name in names]
        for entry, name in zip(entries, names, strict=True):
            stored = services.store.path_for(ref, name).read_bytes()
            assert _read(entry.open) == stored
            assert entry.size == len(stored)
    assert all(item.seen for item in services.inbox.source(ref).items)
    assert services.inbox.page(1).rows[0].unread == 0


def test_entries_unread_returns_only_unseen_submissions(services: Services) -> None:
    _, ref = _new_source(services, "one", "two", "three")
    services.replies.reply(ref, "a reply")
    first, second, third, _reply = _file_names(services, ref)
    services.inbox.mark_seen(ref, [second])
    with services.inbox.entries(ref, Selection.UNREAD, []) as entries:
        assert [e.arcname.split("/")[1] for e in entries] == [first, third]
    assert services.inbox.entries(ref, Selection.UNREAD, []) == []


def test_entries_chosen_returns_only_the_named_items(services: Services) -> None:
    _, ref = _new_source(services, "one", "two", "three")
    first, second, third = _file_names(services, ref)
    with services.inbox.entries(ref, Selection.CHOSEN, [third, first, first]) as entries:
        assert [e.arcname.split("/")[1] for e in entries] == [first, third]
    seen = {i.file_name: i.seen for i in services.inbox.source(ref).items}
    assert seen == {first: True, second: False, third: True}


def test_a_chosen_name_of_another_source_raises_no_such_item(services: Services) -> None:
    _, mine = _new_source(services, "mine")
    _, theirs = _new_source(services, "theirs")
    (their_item,) = _file_names(services, theirs)
    (my_item,) = _file_names(services, mine)
    with pytest.raises(NoSuchItem):
        services.inbox.entries(mine, Selection.CHOSEN, [my_item, their_item])
    with pytest.raises(NoSuchItem):
        services.inbox.item(mine, their_item)
    assert [row.unread for row in services.inbox.page(1).rows] == [1, 1]


@pytest.mark.parametrize(
    "name", ["", "../1-brave-otter-msg.gpg", "1-brave-otter-msg.gpg", "sdlite.db", "99-x-msg.gpg"]
)
def test_a_chosen_name_that_is_no_item_raises_no_such_item(services: Services, name: str) -> None:
    _, ref = _new_source(services, "mine")
    with pytest.raises(NoSuchItem):
        services.inbox.entries(ref, Selection.CHOSEN, [name])
    with pytest.raises(NoSuchItem):
        services.inbox.item(ref, name)


def test_item_returns_one_ciphertext_and_marks_only_it_seen(services: Services) -> None:
    _, ref = _new_source(services, "one", "two")
    first, second = _file_names(services, ref)
    with services.inbox.item(ref, second) as (entry,):
        assert entry.arcname == second
        assert _read(entry.open) == services.store.path_for(ref, second).read_bytes()
    seen = {i.file_name: i.seen for i in services.inbox.source(ref).items}
    assert seen == {first: False, second: True}


def test_downloaded_ciphertext_is_not_the_plaintext(services: Services) -> None:
    message = "the second unit director locked me in the trailer"
    _, ref = _new_source(services, message)
    with services.inbox.entries(ref, Selection.ALL, []) as (entry,):
        data = _read(entry.open)
    assert message.encode() not in data
    assert b"message.txt" not in data


def test_mark_seen_touches_only_the_named_source(services: Services) -> None:
    _, mine = _new_source(services, "mine")
    _, theirs = _new_source(services, "theirs")
    (their_item,) = _file_names(services, theirs)
    services.inbox.mark_seen(mine, [their_item])
    services.inbox.mark_seen(mine)
    unread = {row.ref: row.unread for row in services.inbox.page(1).rows}
    assert unread == {mine: 0, theirs: 1}
