"""How the app talks to its database: engine set-up, units of work, bulk writes.

Views, commands, scripts and tasks all write through :func:`unit_of_work`, so
every transaction either commits whole or rolls back whole and hands its
connection back to the pool, whatever happens inside it.
"""

import os
import weakref
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from itertools import islice
from pathlib import Path
from typing import Any, cast

from flask import Flask, current_app
from sqlalchemy import Engine, Table, event, insert
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

from .extensions import Base, db
from .pooler import apply_transaction_settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Execution option (and connection info key): how a SQLite transaction began.
_SQLITE_BEGIN = "sqlite_begin"


def init_app(app: Flask) -> None:
    """Tune each engine for its database and make it safe across ``fork()``."""
    with app.app_context():
        for engine in db.engines.values():
            if engine.dialect.name == "sqlite":
                _configure_sqlite(engine)
            apply_transaction_settings(engine)
    app_ref = weakref.ref(app)
    os.register_at_fork(after_in_child=lambda: _forget_parent_connections(app_ref))
    # Teardown runs in reverse order of registration: this one runs before
    # Flask-SQLAlchemy's, which then finds no session left to remove.
    app.teardown_appcontext(lambda _error: discard_session())


def discard_session() -> None:
    """End the current session and forget it, even if its connection has died.

    Rolling back over a dead connection raises; out of a teardown, that turns
    a response already built (a committed write included) into the server's
    HTML 500, and the broken session would stay registered. Here the failure
    is logged, the connection invalidated (so the pool replaces it), and the
    session dropped whatever happens.
    """
    registry = db.session.registry
    if not registry.has():
        return
    session = registry()
    try:
        session.close()
    except SQLAlchemyError as error:
        current_app.logger.warning("Dropped a session that failed to end: %s", error)
        with suppress(SQLAlchemyError):
            session.invalidate()
    finally:
        registry.clear()


# Where a session counts the unit_of_work blocks open on it.
_UNIT_OF_WORK_DEPTH = "unit_of_work_depth"


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """Commit what the block did, or roll all of it back and re-raise.

    Either way the session's connection goes back to the pool, so an error can
    never leave a broken session or a checked-out connection behind. Blocks
    nest like Django's ``atomic()``: an inner block is a savepoint (its error
    undoes only its own work, and the outer block may catch it and go on),
    and only the outermost block commits.
    """
    session = db.session()
    if session.info.get(_UNIT_OF_WORK_DEPTH):
        with _deeper(session), session.begin_nested():
            yield session
        return
    begin_writing(session)
    with _deeper(session):
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def _deeper(session: Session) -> Iterator[None]:
    """Count the ``unit_of_work`` blocks open on ``session``."""
    session.info[_UNIT_OF_WORK_DEPTH] = session.info.get(_UNIT_OF_WORK_DEPTH, 0) + 1
    try:
        yield
    finally:
        session.info[_UNIT_OF_WORK_DEPTH] -= 1


def begin_writing(session: Session) -> None:
    """Open ``session``'s transaction for writing: on SQLite, ``BEGIN IMMEDIATE``.

    A transaction that has only read so far (the request looked something up
    first) is ended before, as its read lock could not be upgraded; the
    objects it loaded stay usable. On other databases this does nothing.
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    if session.in_transaction():
        pending = session.new or session.dirty or session.deleted
        begun = session.connection().info.get(_SQLITE_BEGIN)
        if pending or begun != "DEFERRED" or session.in_nested_transaction():
            return
        session.commit()
    session.connection(execution_options={_SQLITE_BEGIN: "IMMEDIATE"})


def insert_in_batches(
    model: type[Base], rows: Iterable[Mapping[str, Any]], batch_size: int = 10_000
) -> Iterator[int]:
    """Insert ``rows`` one committed batch at a time; yield each batch's size.

    One transaction per batch keeps memory flat and commits rare (a commit per
    row is the slow path). A failing batch is rolled back whole; the batches
    before it stay committed.
    """
    table = cast(Table, model.__table__)
    iterator = iter(rows)
    while batch := list(islice(iterator, batch_size)):
        with unit_of_work() as session:
            if session.get_bind().dialect.name == "postgresql":
                _copy_rows(session, table, batch)
            else:
                # Core INSERT: the ORM's per-row bookkeeping buys nothing here.
                session.execute(insert(table), batch)
        yield len(batch)


def _copy_rows(session: Session, table: Table, rows: list[Mapping[str, Any]]) -> None:
    """PostgreSQL's COPY: several times faster than a multi-row INSERT."""
    columns = list(rows[0])
    driver_connection = session.connection().connection.driver_connection
    assert driver_connection is not None
    statement = "COPY {} ({}) FROM STDIN".format(
        table.fullname, ", ".join(f'"{column}"' for column in columns)
    )
    dbapi = session.get_bind().dialect.loaded_dbapi
    try:
        with driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([row[column] for column in columns])
    except dbapi.Error as error:
        # Raise what SQLAlchemy would (IntegrityError, ...), as for an INSERT.
        raise DBAPIError.instance(statement, None, error, dbapi.Error) from error


def _configure_sqlite(engine: Engine) -> None:
    """Foreign keys, WAL, and transactions that SQLAlchemy begins (writes: IMMEDIATE).

    The ``sqlite3`` driver begins transactions on its own, so a SAVEPOINT can
    end up as the outermost transaction and a "nested" commit really commits.
    SQLAlchemy's documented fix, used here on every Python version, switches
    that off and emits BEGIN itself. (Python 3.12's ``autocommit=False`` keeps
    a transaction open from the moment it connects, which would turn
    ``PRAGMA foreign_keys=ON`` into a silent no-op.)

    Write transactions (see :func:`begin_writing`) start with ``BEGIN
    IMMEDIATE``: they take the write lock up front, waiting up to the busy
    timeout for a competing writer. A deferred ``BEGIN`` that reads and then
    writes fails at once with "database is locked" instead, as SQLite cannot
    wait to upgrade a read lock. Other transactions stay deferred, so a
    session left open after a read (a shell, a slow request) locks nobody out.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if engine.url.database not in (None, "", ":memory:"):
            # Readers beside one writer; with WAL, NORMAL sync cannot corrupt
            # the file and spares a disk flush per commit.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(_SQLITE_BEGIN, "DEFERRED")
        connection.info[_SQLITE_BEGIN] = mode
        connection.exec_driver_sql(f"BEGIN {mode}")


def _forget_parent_connections(app_ref: "weakref.ref[Flask]") -> None:
    """In a forked child, drop the parent's pooled connections without closing them."""
    app = app_ref()
    if app is None:
        return
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)
