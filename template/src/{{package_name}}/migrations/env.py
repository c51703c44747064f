"""Alembic environment: the app's engine and metadata, online mode only."""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app
from sqlalchemy import Connection, text

config = context.config
if config.config_file_name is not None and not logging.getLogger().handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

db = current_app.extensions["migrate"].db

# Any constant: every replica that runs `flask db upgrade` takes the same lock.
MIGRATION_LOCK_KEY = 0x616C656D_62696300  # "alembic" in ASCII
TIMEOUTS = "current_setting('lock_timeout'), current_setting('statement_timeout')"
SET_TIMEOUTS = (
    "set_config('lock_timeout', :lock, true),"
    " set_config('statement_timeout', :statement, true)"
)


def run_migrations_online() -> None:
    """Migrate through the app's own engine (``db.engine``, not deprecated APIs)."""
    with db.engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=db.metadata,
            # Flask-Migrate's defaults: compare column types, and batch mode so
            # ALTERs work on SQLite (it rebuilds the table).
            **current_app.extensions["migrate"].configure_args,
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                wait_for_other_replicas(connection)
            context.run_migrations()


def wait_for_other_replicas(connection: Connection) -> None:
    """Take the migration lock: replicas starting together take turns.

    The first migrates; the others wait here, then find the database at head
    and do nothing. The lock lasts until this transaction (all migrations)
    commits. The wait lasts as long as the other replica's migrations do, so
    the lock and statement timeouts are lifted for it and then put back: they
    still bound the migrations themselves.
    """
    saved = connection.execute(text(f"SELECT {TIMEOUTS}")).one()
    connection.execute(text(f"SELECT {SET_TIMEOUTS}"), {"lock": "0", "statement": "0"})
    connection.execute(
        text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
    )
    connection.execute(
        text(f"SELECT {SET_TIMEOUTS}"), {"lock": saved[0], "statement": saved[1]}
    )


if context.is_offline_mode():
    raise SystemExit("Offline migrations are not set up; run against a database.")
run_migrations_online()
