"""Per-test database isolation: one connection, one outer transaction, rolled back.

The schema is built once; each test then runs inside a transaction that is
rolled back when it ends. Whatever the test commits, through ``db.session``,
the test client, a CLI command, a task or Core code that opens its own
connection from ``db.engine``, becomes a SAVEPOINT inside that transaction and
disappears with it. Nothing is deleted or recreated between tests.
"""

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from click.testing import Result
from flask import Flask
from flask.globals import app_ctx
from flask.testing import FlaskClient, FlaskCliRunner
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import scoped_session, sessionmaker


class ProductionLikeClient(FlaskClient):
    """A test client whose every request gets an app context of its own.

    Flask reuses an app context that is already pushed, so a request made while
    the test holds one would share the test's session: a missing commit in a
    view would go unnoticed. Running each request in an empty ``contextvars``
    context makes it start and tear down its own context, as in production.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        return contextvars.Context().run(super().open, *args, **kwargs)


class ProductionLikeCliRunner(FlaskCliRunner):
    """Like :class:`ProductionLikeClient`, for ``flask`` commands."""

    def invoke(self, *args: Any, **kwargs: Any) -> Result:
        return contextvars.Context().run(super().invoke, *args, **kwargs)


class ConnectionBoundSession(FlaskSession):
    """Flask-SQLAlchemy's session, but it honours ``bind=``.

    Flask-SQLAlchemy 3.1 picks the app's engine even when the session was given
    a connection (pallets-eco/flask-sqlalchemy#1167), which would let commits
    escape the test's transaction.
    """

    def get_bind(self, *args: Any, **kwargs: Any) -> Any:
        if self.bind is not None:
            return self.bind
        return super().get_bind(*args, **kwargs)


class SavepointConnection:
    """What app code gets from ``db.engine.connect()`` during a test.

    Its ``commit()`` releases a savepoint instead of committing the test's
    transaction, and closing it rolls back whatever it left uncommitted.
    """

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._savepoint = connection.begin_nested()

    def commit(self) -> None:
        self._savepoint.commit()
        self._savepoint = self._connection.begin_nested()

    def rollback(self) -> None:
        self._savepoint.rollback()
        self._savepoint = self._connection.begin_nested()

    def begin(self) -> Any:
        return self._connection.begin_nested()

    def close(self) -> None:
        if self._savepoint.is_active:
            self._savepoint.rollback()

    def __enter__(self) -> "SavepointConnection":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


class SavepointEngine:
    """Stands in for ``db.engine`` during a test; hands out the test's connection."""

    def __init__(self, engine: Engine, connection: Connection) -> None:
        self._engine = engine
        self._connection = connection

    def connect(self) -> SavepointConnection:
        return SavepointConnection(self._connection)

    @contextmanager
    def begin(self) -> Iterator[SavepointConnection]:
        with self.connect() as connection:
            yield connection
            connection.commit()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


class TransactionIsolation:
    """Swaps ``db.session`` and ``db.engine`` for ones bound to a test transaction.

    Made once per test session; :meth:`isolate` costs one connection checkout,
    one BEGIN and one ROLLBACK per test.
    """

    def __init__(self, app: Flask, db: SQLAlchemy) -> None:
        self.app = app
        self.db = db
        self._factory = sessionmaker(
            class_=ConnectionBoundSession,
            db=db,
            query_cls=db.Query,
            join_transaction_mode="create_savepoint",
        )
        # One session per app context, as in the app: each request is separate.
        self._session = scoped_session(
            self._factory,
            scopefunc=lambda: id(app_ctx._get_current_object()),  # type: ignore[attr-defined]
        )

    @contextmanager
    def isolate(self) -> Iterator[Connection]:
        """Run the block inside one transaction that is rolled back afterwards."""
        with self.app.app_context():
            engines = self.db.engines
            engine = engines[None]
        real_session = self.db.session
        connection = engine.connect()
        transaction = connection.begin()
        self._factory.configure(bind=connection)
        self.db.session = self._session  # type: ignore[assignment]
        engines[None] = SavepointEngine(engine, connection)
        try:
            yield connection
        finally:
            # Each app context's teardown already closed its session; forget
            # any left by contexts the test never popped.
            self._session.registry.registry.clear()
            engines[None] = engine
            self.db.session = real_session
            transaction.rollback()
            connection.close()
