"""Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, inspect, select
from sqlalchemy.engine import Engine

from securedrop_lite import db
from securedrop_lite.models import Base
from tests.postgres import PostgresServer

_names = itertools.count(1)


@pytest.fixture
def empty_url(tmp_path: Path, database_server: PostgresServer | None) -> Iterator[str]:
    """An empty database of the run's kind: a new SQLite file, or a new PostgreSQL database."""
    if database_server is None:
        yield f"sqlite:///{tmp_path / 'm.db'}"
        return
    name = f"migrations_{next(_names)}"
    url = database_server.create_database(name)
    yield url
    database_server.drop_database(name)


def _engine(url: str) -> Engine:
    return create_engine(db.engine_url(url))


def test_migrations_match_the_models(empty_url: str) -> None:
    db.upgrade(empty_url)
    engine = _engine(empty_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert diff == []


def test_upgrade_is_idempotent(empty_url: str) -> None:
    db.upgrade(empty_url)
    db.upgrade(empty_url)
    engine = _engine(empty_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"sources", "submissions", "replies", "web_sessions", "alembic_version"} <= tables
    assert "throttle_counters" in tables


def test_upgrade_from_the_first_schema_keeps_sources_and_dates_their_first_submission(
    empty_url: str,
) -> None:
    command.upgrade(db.alembic_config(empty_url), "0001")
    engine = _engine(empty_url)
    first = MetaData()
    first.reflect(engine)
    sources, submissions = first.tables["sources"], first.tables["submissions"]
    with engine.begin() as connection:
        connection.execute(
            sources.insert().values(
                id=1, lookup_id="l", store_dir="d", designation="brave otter",
                public_key=b"\0", created_on=date(2026, 11, 1),
                last_activity_on=date(2026, 11, 3), item_counter=2,
            )
        )  # fmt: skip
        connection.execute(
            submissions.insert(),
            [
                {"source_id": 1, "number": 1, "kind": "msg", "file_name": "1-brave-otter-msg.gpg",
                 "size": 10, "created_on": date(2026, 11, 2), "seen": False},
                {"source_id": 1, "number": 2, "kind": "doc", "file_name": "2-brave-otter-doc.gpg",
                 "size": 2_000_000_000, "created_on": date(2026, 11, 3), "seen": False},
            ],
        )  # fmt: skip
    db.upgrade(empty_url)
    latest = MetaData()
    latest.reflect(engine)
    sources, submissions = latest.tables["sources"], latest.tables["submissions"]
    with engine.begin() as connection:
        # The first schema's size was a 32-bit integer on PostgreSQL; now 5 GB fits.
        connection.execute(
            submissions.update().where(submissions.c.number == 2).values(size=5_000_000_000)
        )
        row = connection.execute(
            select(sources.c.first_submission_on, sources.c.starred, sources.c.deleted)
        ).one()
        sizes = connection.execute(select(submissions.c.size).order_by(submissions.c.number))
        size_list = [size for (size,) in sizes]
    engine.dispose()
    first_submission_on, starred, deleted = row
    assert str(first_submission_on) == "2026-11-02"
    assert (bool(starred), bool(deleted)) == (False, False)
    assert size_list == [10, 5_000_000_000]


def test_downgrade_to_the_first_schema_works(empty_url: str) -> None:
    db.upgrade(empty_url)
    command.downgrade(db.alembic_config(empty_url), "0001")
    engine = _engine(empty_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert "users" not in tables
    assert "throttle_counters" not in tables
    assert "sources" in tables
