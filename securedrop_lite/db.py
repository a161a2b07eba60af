"""The database: engine, sessions, and Alembic migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # secure_delete: deleted rows are overwritten with zeros, not left in free pages.
    for pragma in ("foreign_keys=ON", "secure_delete=ON", "busy_timeout=30000"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


class Database:
    """One engine and its session factory, built once per app."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Yield a session; commit when the block succeeds, roll back when it raises."""
        with self._sessions() as session, session.begin():
            yield session

    @property
    def sqlite_path(self) -> str | None:
        if self.engine.dialect.name != "sqlite":
            return None
        return self.engine.url.database

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str) -> AlembicConfig:
    script_location = str(resources.files("securedrop_lite").joinpath("migrations"))
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", script_location)
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    """Bring the schema at url to the newest migration."""
    command.upgrade(alembic_config(url), "head")
