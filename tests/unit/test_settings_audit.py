"""Instance settings that admins edit, and the audit log that records only an event and its day."""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import BigInteger, String, func, inspect, select

from securedrop_lite.config import MIB, Config
from securedrop_lite.models import AuditEvent, InstanceSettingsRow, Submission
from securedrop_lite.services import Services, build_services
from securedrop_lite.services.audit import Event
from securedrop_lite.services.settings import (
    MAX_UPLOAD_CEILING_BYTES,
    InstanceSettings,
    InvalidSettings,
    SettingsService,
)
from tests.conftest import FrozenClock

DAY = timedelta(days=1)
# PostgreSQL's INTEGER, which SQLAlchemy's Integer becomes there (DESIGN.md: "Scale").
POSTGRES_INTEGER_MAX = 2**31 - 1

VALID = InstanceSettings(
    organization_name="Ombuds Office of the Screen Guild",
    welcome_text="Tell us what happened, in your own words.",
    response_promise="We answer within 7 days.",
    allow_uploads=True,
    max_upload_bytes=500 * MIB,
    retention_days=0,
)


def _settings_rows(services: Services) -> int:
    with services.db.session() as s:
        return s.scalar(select(func.count()).select_from(InstanceSettingsRow)) or 0


# --- settings -------------------------------------------------------------------------


def test_settings_default_to_the_config_values(services: Services, config: Config) -> None:
    current = services.settings.current()
    assert current == InstanceSettings(
        organization_name=config.organization_name,
        welcome_text=config.welcome_text,
        response_promise=config.response_promise,
        allow_uploads=config.allow_uploads,
        max_upload_bytes=config.max_upload_bytes,
        retention_days=config.retention_days,
    )
    assert current.organization_name == "Test Ombuds Office"
    assert _settings_rows(services) == 0


def test_update_persists_for_every_process(
    services: Services, config: Config, clock: FrozenClock
) -> None:
    services.settings.update(VALID)
    assert services.settings.current() == VALID
    other_process = build_services(config, clock)
    try:
        assert other_process.settings.current() == VALID
    finally:
        other_process.db.dispose()


def test_saved_settings_win_over_the_config_file(services: Services) -> None:
    services.settings.update(VALID)
    other_defaults = dataclasses.replace(VALID, organization_name="Somewhere Else")
    assert SettingsService(services.db, other_defaults).current() == VALID


def test_updating_again_replaces_the_one_settings_row(services: Services) -> None:
    services.settings.update(VALID)
    changed = dataclasses.replace(VALID, allow_uploads=False, retention_days=90)
    services.settings.update(changed)
    assert services.settings.current() == changed
    assert _settings_rows(services) == 1


def test_saved_settings_govern_new_submissions(services: Services) -> None:
    services.settings.update(dataclasses.replace(VALID, allow_uploads=False, max_upload_bytes=MIB))
    limits = services.submissions.limits()
    assert (limits.allow_uploads, limits.max_upload_bytes) == (False, MIB)
    assert limits.max_message_chars == services.config.max_message_chars


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("organization_name", ""),
        ("organization_name", "   "),
        ("organization_name", "x" * 101),
        ("welcome_text", "x" * 2001),
        ("response_promise", "x" * 201),
        ("max_upload_bytes", 0),
        ("max_upload_bytes", MIB - 1),
        ("max_upload_bytes", MAX_UPLOAD_CEILING_BYTES + 1),
        ("max_upload_bytes", -MIB),
        ("retention_days", -1),
        ("retention_days", 3651),
    ],
)
def test_check_refuses_out_of_range_values(field: str, value: object) -> None:
    with pytest.raises(InvalidSettings):
        dataclasses.replace(VALID, **{field: value}).check()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("organization_name", "x"),
        ("organization_name", "x" * 100),
        ("welcome_text", ""),
        ("welcome_text", "x" * 2000),
        ("response_promise", ""),
        ("response_promise", "x" * 200),
        ("max_upload_bytes", MIB),
        ("max_upload_bytes", MAX_UPLOAD_CEILING_BYTES),
        ("retention_days", 0),
        ("retention_days", 3650),
        ("allow_uploads", False),
    ],
)
def test_check_accepts_values_at_the_limits(field: str, value: object) -> None:
    dataclasses.replace(VALID, **{field: value}).check()


def test_update_refuses_invalid_settings_and_keeps_the_saved_ones(services: Services) -> None:
    services.settings.update(VALID)
    with pytest.raises(InvalidSettings):
        services.settings.update(dataclasses.replace(VALID, retention_days=-1))
    assert services.settings.current() == VALID


def test_update_refuses_invalid_settings_before_anything_is_saved(services: Services) -> None:
    defaults = services.settings.current()
    with pytest.raises(InvalidSettings):
        services.settings.update(dataclasses.replace(VALID, max_upload_bytes=0))
    assert services.settings.current() == defaults
    assert _settings_rows(services) == 0


def test_an_organization_name_that_passes_the_check_fits_its_column(services: Services) -> None:
    """The check strips the name, but saves it unstripped into VARCHAR(100).

    PostgreSQL truncates excess trailing spaces silently, but refuses any other excess.
    """
    column = InstanceSettingsRow.__table__.c.organization_name
    assert isinstance(column.type, String)
    with contextlib.suppress(InvalidSettings):  # refusing it is as good as saving it stripped
        services.settings.update(dataclasses.replace(VALID, organization_name="   " + "x" * 100))
    assert len(services.settings.current().organization_name) <= column.type.length


def test_the_largest_upload_an_admin_may_allow_fits_the_database_columns() -> None:
    """On PostgreSQL, Integer is 32-bit: 2,048 MiB is one byte past what it holds."""
    columns = [
        InstanceSettingsRow.__table__.c.max_upload_bytes,
        Submission.__table__.c.size,
    ]
    too_small = [
        str(column)
        for column in columns
        if not isinstance(column.type, BigInteger)
        and MAX_UPLOAD_CEILING_BYTES > POSTGRES_INTEGER_MAX
    ]
    assert too_small == []


# --- audit ----------------------------------------------------------------------------


def test_audit_events_table_has_only_id_event_and_day(services: Services) -> None:
    columns = inspect(services.db.engine).get_columns("audit_events")
    assert [c["name"] for c in columns] == ["id", "event", "occurred_on"]
    assert [c.name for c in AuditEvent.__table__.columns] == ["id", "event", "occurred_on"]


def test_audit_records_the_event_and_the_day_only(services: Services, clock: FrozenClock) -> None:
    services.audit.record(Event.LOGIN_FAILED)
    page = services.audit.page(1)
    assert page.events == [("login failed", clock().date())]
    assert page.total == 1
    with services.db.engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT event, occurred_on FROM audit_events").all()
    # SQLite holds text, PostgreSQL a date: either way, no time of day.
    assert [(event, str(day)) for event, day in stored] == [("login failed", "2026-11-22")]


def test_audit_page_lists_the_newest_first_and_counts_all(
    services: Services, clock: FrozenClock
) -> None:
    for event in (Event.USER_ADDED, Event.LOGIN_SUCCEEDED, Event.REPLY):
        services.audit.record(event)
        clock.advance(DAY)
    first, second = services.audit.page(1, per_page=2), services.audit.page(2, per_page=2)
    today = clock().date()
    assert first.events == [("reply", today - DAY), ("login succeeded", today - 2 * DAY)]
    assert second.events == [("user added", today - 3 * DAY)]
    assert first.total == second.total == 3


def test_audit_page_below_one_is_the_first_page(services: Services) -> None:
    services.audit.record(Event.DOWNLOAD)
    assert services.audit.page(0).events == services.audit.page(1).events


def test_every_event_name_fits_its_column() -> None:
    length = AuditEvent.__table__.c.event.type.length
    assert all(len(event.value) <= length for event in Event)
    assert len({event.value for event in Event}) == len(Event)
