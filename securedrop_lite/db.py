"""The database: engine, sessions, and Alembic migrations."""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from securedrop_lite.filetimes import set_times_to_day


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # secure_delete: deleted rows are overwritten with zeros, not left in free pages.
    for pragma in ("foreign_keys=ON", "secure_delete=ON", "busy_timeout=30000"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def engine_url(url: str) -> str:
    """The URL SQLAlchemy should open: postgresql:// means psycopg 3, the driver we ship."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


class Database:
    """One engine and its session factory, built once per app.

    With SQLite, every commit sets the database file's and its directory's times back
    to the start of the day, so the file system does not record when a source wrote (P4).
    """

    def __init__(self, url: str, clock: Callable[[], datetime]) -> None:
        self.url = url
        self.clock = clock
        url = engine_url(url)
        # A server database may restart under us; a file database cannot.
        self.engine: Engine = create_engine(url, pool_pre_ping=not url.startswith("sqlite"))
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # A Database dropped without dispose() (a short-lived app in a test, say) still
        # closes its pooled connections, instead of leaving them to the server's timeout.
        weakref.finalize(self, self.engine.dispose)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self._sessions, "after_commit", self._normalize_file_times)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Yield a session; commit when the block succeeds, roll back when it raises."""
        with self._sessions() as session, session.begin():
            yield session

    def serialize(self, session: Session, name: str) -> None:
        """Hold, until session's transaction ends, a lock that every other writer of name waits for.

        PostgreSQL: a transaction-level advisory lock. SQLite needs none: its first write
        in a transaction already holds out every other writer.
        """
        if self.engine.dialect.name == "postgresql":
            key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

    def _normalize_file_times(self, _session: Session) -> None:
        database = self.engine.url.database
        if not database or database == ":memory:":
            return
        set_times_to_day(self.clock(), Path(database), Path(database).parent)

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str) -> AlembicConfig:
    script_location = str(resources.files("securedrop_lite").joinpath("migrations"))
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", script_location)
    cfg.set_main_option("sqlalchemy.url", engine_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    """Bring the schema at url to the newest migration."""
    command.upgrade(alembic_config(url), "head")
