"""Throwaway test databases: SQLite files, or databases on a server."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, make_url, text


@contextmanager
def temporary_database(base_url: str, name: str, directory: Path) -> Iterator[str]:
    """An empty database called ``name``, gone when the block ends.

    SQLite gets a file in ``directory``; a server (PostgreSQL) gets a new
    database beside the one ``base_url`` names, so parallel workers never meet.
    """
    url = make_url(base_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{directory / f'{name}.sqlite3'}"
        return
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    database = f"{url.database}_{name}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    try:
        yield url.set(database=database).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(
                text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            )
        admin.dispose()
