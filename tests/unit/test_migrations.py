"""Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from securedrop_lite import db
from securedrop_lite.models import Base


def test_migrations_match_the_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    db.upgrade(url)
    engine = create_engine(url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert diff == []


def test_upgrade_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    db.upgrade(url)
    db.upgrade(url)
    engine = create_engine(url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"sources", "submissions", "replies", "web_sessions", "alembic_version"} <= tables


def test_upgrade_from_the_first_schema_keeps_sources_and_dates_their_first_submission(
    tmp_path: Path,
) -> None:
    from alembic import command

    url = f"sqlite:///{tmp_path / 'm.db'}"
    command.upgrade(db.alembic_config(url), "0001")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO sources (id, lookup_id, store_dir, designation, public_key, created_on,"
            " last_activity_on, item_counter) VALUES (1, 'l', 'd', 'brave otter', x'00',"
            " '2026-11-01', '2026-11-03', 2)"
        )
        connection.exec_driver_sql(
            "INSERT INTO submissions (source_id, number, kind, file_name, size, created_on, seen)"
            " VALUES (1, 1, 'msg', '1-brave-otter-msg.gpg', 10, '2026-11-02', 0),"
            " (1, 2, 'doc', '2-brave-otter-doc.gpg', 5000000000, '2026-11-03', 0)"
        )
    db.upgrade(url)
    with engine.connect() as connection:
        row = connection.exec_driver_sql(
            "SELECT first_submission_on, starred, deleted FROM sources"
        ).one()
        sizes = connection.exec_driver_sql("SELECT size FROM submissions ORDER BY number").all()
    engine.dispose()
    assert tuple(row) == ("2026-11-02", 0, 0)
    assert [size for (size,) in sizes] == [10, 5_000_000_000]


def test_downgrade_to_the_first_schema_works(tmp_path: Path) -> None:
    from alembic import command

    url = f"sqlite:///{tmp_path / 'm.db'}"
    db.upgrade(url)
    command.downgrade(db.alembic_config(url), "0001")
    engine = create_engine(url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert "users" not in tables
    assert "sources" in tables
