"""A text dump of a database's rows, for tests that look for what must not be stored."""

from __future__ import annotations

from sqlalchemy import MetaData, create_engine, select

from securedrop_lite.db import engine_url


def dump_database(url: str) -> str:
    """Every row of every table as `table: value, value, ...`, on SQLite or PostgreSQL.

    Values are written with str(), so a stored time of day shows as "HH:MM:SS", and bytes
    as their Python literal.
    """
    engine = create_engine(engine_url(url))
    try:
        tables = MetaData()
        tables.reflect(engine)
        lines = []
        with engine.connect() as connection:
            for name, table in sorted(tables.tables.items()):
                for row in connection.execute(select(table)):
                    values = ", ".join(str(value) for value in row)
                    lines.append(f"{name}: {values}")
        return "\n".join(lines)
    finally:
        engine.dispose()
