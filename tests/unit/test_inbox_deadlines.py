"""Deadlines in the ombuds inbox: the acknowledgment target, overdue rows, the overdue sort."""

from __future__ import annotations

import dataclasses
import html
import re
from datetime import date, timedelta

import pytest

from securedrop_lite.config import Config
from securedrop_lite.services import Services, build_services
from securedrop_lite.services.inbox import InboxRow, InboxSort
from securedrop_lite.services.users import NewCredentials
from tests.conftest import FrozenClock, OmbudsActions
from tests.unit.staged_items import new_source
from tests.unit.test_inbox import _insert_sources, _statements_for

DAY = timedelta(days=1)


def _row(services: Services, ref: str, sort: InboxSort = InboxSort.ACTIVITY) -> InboxRow:
    (row,) = [row for row in services.inbox.page(1, sort=sort).rows if row.ref == ref]
    return row


def _refs(services: Services, sort: InboxSort, per_page: int = 50) -> list[str]:
    return [row.ref for row in services.inbox.page(1, per_page, sort).rows]


def _get(ombuds: OmbudsActions, credentials: NewCredentials, path: str) -> str:
    """Fetch a page, logging in again if the frozen clock has outrun the session."""
    response = ombuds.client.get(path)
    if response.status_code == 302 and response.headers["Location"].startswith("/login"):
        assert ombuds.login(credentials).status_code == 302
        response = ombuds.client.get(path)
    assert response.status_code == 200
    return str(response.get_data(as_text=True))


def _inbox_html(ombuds: OmbudsActions, credentials: NewCredentials, query: str = "") -> str:
    return _get(ombuds, credentials, "/" + query)


def _html_row(page: str, designation: str) -> str:
    (row,) = [tr for tr in page.split("<tr")[1:] if html.escape(designation) in tr]
    return row


# --- the acknowledgment target ----------------------------------------------------------


def test_a_source_is_not_overdue_on_the_acknowledgment_day_but_is_the_day_after(
    services: Services, clock: FrozenClock, config: Config
) -> None:
    first_day = clock().date()
    _, ref = new_source(services, "please answer")
    due = first_day + timedelta(days=config.acknowledge_days)
    clock.advance(config.acknowledge_days * DAY)
    assert clock().date() == due
    row, view = _row(services, ref), services.inbox.source(ref)
    assert (row.acknowledge_by, row.overdue) == (due, False)
    assert (view.acknowledge_by, view.overdue) == (due, False)
    clock.advance(DAY)
    row, view = _row(services, ref), services.inbox.source(ref)
    assert (row.acknowledge_by, row.overdue) == (due, True)
    assert (view.acknowledge_by, view.overdue) == (due, True)


def test_the_acknowledgment_target_counts_from_the_first_submission_not_the_latest(
    services: Services, clock: FrozenClock, config: Config
) -> None:
    first_day = clock().date()
    identity, ref = new_source(services, "first")
    clock.advance((config.acknowledge_days + 1) * DAY)
    services.submissions.submit(identity, "still waiting", None)
    row = _row(services, ref)
    assert row.acknowledge_by == first_day + timedelta(days=config.acknowledge_days)
    assert row.overdue


def test_acknowledge_days_comes_from_the_config(config: Config, clock: FrozenClock) -> None:
    services = build_services(dataclasses.replace(config, acknowledge_days=2), clock)
    try:
        _, ref = new_source(services, "hello")
        clock.advance(2 * DAY)
        assert not _row(services, ref).overdue
        clock.advance(DAY)
        assert _row(services, ref).overdue
    finally:
        services.db.dispose()


def test_a_reply_clears_overdue_and_the_acknowledgment_date(
    services: Services, clock: FrozenClock, config: Config
) -> None:
    identity, ref = new_source(services, "please answer")
    clock.advance((config.acknowledge_days + 3) * DAY)
    assert _row(services, ref).overdue
    services.replies.reply(ref, "We read your message and will get back to you.")
    for state in (_row(services, ref), services.inbox.source(ref)):
        assert (state.acknowledge_by, state.overdue) == (None, False)
    clock.advance(30 * DAY)
    services.submissions.submit(identity, "thank you", None)
    assert (_row(services, ref).acknowledge_by, _row(services, ref).overdue) == (None, False)


# --- the overdue sort -------------------------------------------------------------------


@dataclasses.dataclass
class Office:
    """Five sources: three awaiting a first reply (one starred), two replied to."""

    replied_active: str  # wrote day 0, replied day 4, wrote again day 6
    waiting_longest: str  # wrote day 1
    waiting_and_active: str  # wrote day 2 and day 5
    waiting_starred: str  # wrote day 3, starred
    replied_quiet: str  # wrote day 4, replied day 4


@pytest.fixture
def office(services: Services, clock: FrozenClock) -> Office:
    start = clock.current
    _at = lambda day: setattr(clock, "current", start + day * DAY)  # noqa: E731
    replied_active, replied_active_ref = new_source(services, "day 0")
    _at(1)
    _, waiting_longest = new_source(services, "day 1")
    _at(2)
    waiting_and_active, waiting_and_active_ref = new_source(services, "day 2")
    _at(3)
    _, waiting_starred = new_source(services, "day 3")
    services.inbox.set_starred(waiting_starred, True)
    _at(4)
    _, replied_quiet = new_source(services, "day 4")
    services.replies.reply(replied_active_ref, "a reply")
    services.replies.reply(replied_quiet, "a reply")
    _at(5)
    services.submissions.submit(waiting_and_active, "day 5", None)
    _at(6)
    services.submissions.submit(replied_active, "day 6", None)
    _at(12)
    return Office(
        replied_active_ref, waiting_longest, waiting_and_active_ref, waiting_starred, replied_quiet
    )


def test_overdue_sort_puts_sources_awaiting_a_reply_first_the_longest_waiting_first(
    services: Services, office: Office
) -> None:
    assert _refs(services, InboxSort.OVERDUE) == [
        office.waiting_longest,
        office.waiting_and_active,
        office.waiting_starred,
        office.replied_active,
        office.replied_quiet,
    ]


def test_activity_sort_is_still_starred_first_then_latest_activity(
    services: Services, office: Office
) -> None:
    assert _refs(services, InboxSort.ACTIVITY) == [
        office.waiting_starred,
        office.replied_active,
        office.waiting_and_active,
        office.replied_quiet,
        office.waiting_longest,
    ]
    assert services.inbox.page(1).sort is InboxSort.ACTIVITY


def test_overdue_sort_pages_follow_on_from_each_other(services: Services, office: Office) -> None:
    pages = [services.inbox.page(n, per_page=2, sort=InboxSort.OVERDUE) for n in (1, 2, 3)]
    assert [row.ref for page in pages for row in page.rows] == _refs(services, InboxSort.OVERDUE)
    assert all(page.sort is InboxSort.OVERDUE for page in pages)


def test_overdue_sort_issues_the_same_number_of_sql_queries_for_10_and_1000_sources(
    services: Services,
) -> None:
    _insert_sources(services, 1, 10)
    overdue = lambda: services.inbox.page(1, sort=InboxSort.OVERDUE)  # noqa: E731
    for_ten = _statements_for(services, overdue)
    _insert_sources(services, 11, 990)
    for_thousand = _statements_for(services, overdue)
    assert len(for_thousand) == len(for_ten)
    assert 1 <= len(for_ten) <= 2


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("activity", InboxSort.ACTIVITY),
        ("overdue", InboxSort.OVERDUE),
        (None, InboxSort.ACTIVITY),
        ("", InboxSort.ACTIVITY),
        ("OVERDUE", InboxSort.ACTIVITY),
        ("overdue ", InboxSort.ACTIVITY),
        ("first_submission_on; DROP TABLE sources", InboxSort.ACTIVITY),
    ],
)
def test_an_unknown_sort_value_means_the_default_sort(
    value: str | None, expected: InboxSort
) -> None:
    assert InboxSort.parse(value) is expected


# --- the inbox page ---------------------------------------------------------------------


def _designations(services: Services, sort: InboxSort) -> list[str]:
    return [row.designation for row in services.inbox.page(1, sort=sort).rows]


def _order_on_page(page: str, designations: list[str]) -> list[str]:
    return sorted(designations, key=lambda name: page.index(html.escape(name)))


def test_inbox_page_sorts_by_overdue_when_asked_and_links_to_both_sorts(
    services: Services, office: Office, ombuds: OmbudsActions, admin_credentials: NewCredentials
) -> None:
    default = _inbox_html(ombuds, admin_credentials)
    overdue = _inbox_html(ombuds, admin_credentials, "?sort=overdue")
    by_activity = _designations(services, InboxSort.ACTIVITY)
    assert _order_on_page(default, by_activity) == by_activity
    by_overdue = _designations(services, InboxSort.OVERDUE)
    assert _order_on_page(overdue, by_overdue) == by_overdue
    assert 'href="/?sort=overdue"' in default
    assert 'href="/?sort=activity"' in overdue


@pytest.mark.parametrize("bogus", ["bogus", "", "OVERDUE", "%27%3B--"])
def test_an_unknown_sort_shows_the_default_order_not_an_error(
    services: Services,
    office: Office,
    ombuds: OmbudsActions,
    admin_credentials: NewCredentials,
    bogus: str,
) -> None:
    page = _inbox_html(ombuds, admin_credentials, f"?sort={bogus}")
    by_activity = _designations(services, InboxSort.ACTIVITY)
    assert _order_on_page(page, by_activity) == by_activity


def test_a_nul_in_the_sort_is_a_plain_400_page(ombuds: OmbudsActions) -> None:
    response = ombuds.client.get("/?sort=overdue%00")
    assert response.status_code == 400  # no text with a NUL reaches a query (PostgreSQL)
    assert "Traceback" not in response.get_data(as_text=True)


def test_pagination_links_keep_the_sort(
    services: Services, ombuds: OmbudsActions, admin_credentials: NewCredentials
) -> None:
    _insert_sources(services, 1, 51)
    first = _inbox_html(ombuds, admin_credentials, "?sort=overdue")
    (next_link,) = re.findall(r'<a href="([^"]+)">Next</a>', first)
    next_link = html.unescape(next_link)
    assert "sort=overdue" in next_link
    assert "page=2" in next_link
    second = ombuds.client.get(next_link).get_data(as_text=True)
    assert "Page 2 of 2" in second
    (previous_link,) = re.findall(r'<a href="([^"]+)">Previous</a>', second)
    assert "sort=overdue" in html.unescape(previous_link)
    expected = [row.designation for row in services.inbox.page(2, sort=InboxSort.OVERDUE).rows]
    assert [name for name in expected if html.escape(name) in second] == expected


def test_an_overdue_row_says_so_in_words_and_carries_the_overdue_class(
    services: Services,
    clock: FrozenClock,
    config: Config,
    ombuds: OmbudsActions,
    admin_credentials: NewCredentials,
) -> None:
    first_day = clock().date()
    new_source(services, "waiting")
    clock.advance((config.acknowledge_days + 1) * DAY)
    new_source(services, "just wrote")
    late, fresh = (row.designation for row in services.inbox.page(1, sort=InboxSort.OVERDUE).rows)
    page = _inbox_html(ombuds, admin_credentials)
    due = (first_day + timedelta(days=config.acknowledge_days)).isoformat()
    late_row, fresh_row = _html_row(page, late), _html_row(page, fresh)
    assert f"past the acknowledgment target (due {due})" in late_row
    assert re.search(r'class="[^"]*\boverdue\b', late_row)
    assert "past the acknowledgment target" not in fresh_row
    assert not re.search(r'class="[^"]*\boverdue\b', fresh_row)
    fresh_due = (clock().date() + timedelta(days=config.acknowledge_days)).isoformat()
    assert f"acknowledge by {fresh_due}" in fresh_row


def test_the_source_page_says_when_a_source_is_past_the_target(
    services: Services,
    clock: FrozenClock,
    config: Config,
    ombuds: OmbudsActions,
    admin_credentials: NewCredentials,
) -> None:
    _, ref = new_source(services, "waiting")
    due: date = clock().date() + timedelta(days=config.acknowledge_days)
    clock.advance((config.acknowledge_days + 1) * DAY)
    page = _get(ombuds, admin_credentials, f"/col/{ref}")
    assert f"Past the acknowledgment target (due {due.isoformat()})" in page


def test_starring_from_the_inbox_keeps_the_sort(
    services: Services, office: Office, ombuds: OmbudsActions, admin_credentials: NewCredentials
) -> None:
    _inbox_html(ombuds, admin_credentials)
    response = ombuds.post(
        f"/col/{office.replied_quiet}/star",
        {"starred": "1", "back": "inbox", "sort": "overdue"},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/?sort=overdue"
    assert _row(services, office.replied_quiet).starred
