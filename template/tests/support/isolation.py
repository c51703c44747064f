"""Per-test database isolation: one connection, one outer transaction, rolled back.

The schema is built once. For each test, every engine of the app (each bind
too) keeps its identity, its event listeners and its sessions, but its pool is
swapped for one whose every checkout is a savepoint on a single connection in
a transaction of the test's own (see ``savepoint_connections``). Whatever
reaches the database, ``db.session``, a new ``Session(db.engine)``,
``engine.connect()`` / ``engine.begin()``, DDL, ``raw_connection()``, commits
as in production within the test, and the test's end rolls all of it back.
Nothing is deleted or recreated between tests.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Connection, Engine, RootTransaction
from sqlalchemy.pool import NullPool, Pool
from sqlalchemy.pool.base import ConnectionPoolEntry

from .savepoint_connections import IsolationError, LogicalConnection, SharedConnection


class SavepointPool(NullPool):
    """Each checkout is a :class:`LogicalConnection` on the test's connection."""

    def __init__(self, shared: SharedConnection, engine: Engine) -> None:
        def creator() -> Any:
            return LogicalConnection(shared)

        super().__init__(creator, dialect=engine.dialect)
        self._checked_out = 0

    def checkedout(self) -> int:
        """Connections the test holds now, as ``QueuePool.checkedout()`` counts them."""
        return self._checked_out

    def recreate(self) -> "SavepointPool":
        """``engine.dispose()`` in a test keeps the engine on the test's connection."""
        return self

    def _do_get(self) -> ConnectionPoolEntry:
        entry = super()._do_get()
        self._checked_out += 1
        return entry

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        self._checked_out -= 1
        super()._do_return_conn(record)


@dataclass
class _TestTransaction:
    """The real connection behind one database URL, in the test's transaction."""

    connection: Connection
    transaction: RootTransaction
    shared: SharedConnection


class TransactionIsolation:
    """Puts the app's engines (and those of apps made during a test) on one transaction.

    Made once per test session; :meth:`isolate` costs one connection checkout,
    one BEGIN and one ROLLBACK per database per test.
    """

    def __init__(self, app: Flask, db: SQLAlchemy) -> None:
        self.app = app
        self.db = db
        self._transactions: dict[str, _TestTransaction] = {}
        self._swapped: list[tuple[Engine, Pool, SavepointPool]] = []
        self._app_engines: dict[str, Engine] | None = None  # made on first use

    @property
    def active(self) -> bool:
        return bool(self._transactions)

    @contextmanager
    def isolate(self) -> Iterator[None]:
        """Run the block inside transactions that are rolled back afterwards."""
        if self._app_engines is None:
            self._app_engines = self._engines(self.app)
        try:
            for name, engine in self._app_engines.items():
                self._swap_pool(engine, self._begin(name, engine))
            yield
        finally:
            self._end()

    def adopt(self, app: Flask) -> None:
        """Put ``app``'s engines that reach an isolated database on its transaction."""
        for engine in self._engines(app).values():
            test_transaction = self._transactions.get(_key(engine))
            if test_transaction is not None:
                self._swap_pool(engine, test_transaction)

    def _engines(self, app: Flask) -> dict[str, Engine]:
        with app.app_context():
            engines = self.db.engines
            return {
                "the default database" if key is None else f"bind {key!r}": engine
                for key, engine in engines.items()
            }

    def _begin(self, name: str, engine: Engine) -> _TestTransaction:
        key = _key(engine)
        if key not in self._transactions:
            try:
                connection = engine.connect()
                transaction = connection.begin()
            except Exception as error:
                raise IsolationError(
                    f"cannot isolate {name} ({engine.url!r}) for the test: {error}"
                ) from error
            dbapi_connection = connection.connection.dbapi_connection
            self._transactions[key] = _TestTransaction(
                connection, transaction, SharedConnection(dbapi_connection)
            )
        return self._transactions[key]

    def _swap_pool(self, engine: Engine, test_transaction: _TestTransaction) -> None:
        if any(swapped is engine for swapped, _, _ in self._swapped):
            return
        pool = SavepointPool(test_transaction.shared, engine)
        self._swapped.append((engine, engine.pool, pool))
        engine.pool = pool

    def _end(self) -> None:
        leaked = sum(pool.checkedout() for _, _, pool in self._swapped)
        for engine, real_pool, _ in reversed(self._swapped):
            engine.pool = real_pool
        self._swapped.clear()
        for test_transaction in self._transactions.values():
            test_transaction.shared.end()
            test_transaction.transaction.rollback()
            test_transaction.connection.close()
        self._transactions.clear()
        assert leaked == 0, f"the test left {leaked} database connection(s) checked out"


def _key(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)
