"""DB-API connections that share one real connection, each transaction a savepoint.

During a test every pool checkout of every engine gets a :class:`LogicalConnection`
on the test's one real connection, which sits in a transaction that is rolled
back when the test ends. SQLAlchemy (sessions, ``engine.connect()``,
``engine.begin()``, DDL, ``raw_connection()``) drives it like any DB-API
connection; its ``commit()`` releases a savepoint instead of committing, its
``rollback()`` rolls back to it. So commits behave as in production within
the test, and nothing outlives it.
"""

from dataclasses import dataclass
from itertools import count
from typing import Any

#: Statements that change nothing; a savepoint that ran only these holds nothing.
READ_ONLY = frozenset({"SELECT", "SHOW", "EXPLAIN"})
#: Transaction control that app code or a dialect may send as SQL.
BEGIN = frozenset({"BEGIN", "START"})
COMMIT = frozenset({"COMMIT", "END"})
ROLLBACK = "ROLLBACK"


class IsolationError(RuntimeError):
    """Something a test did cannot run inside the test's transaction."""


@dataclass
class _Savepoint:
    owner: "LogicalConnection"
    name: str
    written: bool = False


class SharedConnection:
    """One real DB-API connection in the test's transaction, and its savepoints."""

    def __init__(self, dbapi_connection: Any) -> None:
        self.dbapi_connection = dbapi_connection
        self.ended = False
        self._names = count(1)
        self._stack: list[_Savepoint] = []  # the open ones, innermost last

    def open_savepoint(self, owner: "LogicalConnection") -> str:
        """Start ``owner``'s transaction, first releasing savepoints that hold nothing.

        A savepoint that only read is released before another connection
        starts one above it: a later rollback of the reader must not undo
        what the other connection committed meanwhile.
        """
        while self._stack and not self._stack[-1].written:
            reader = self._stack.pop()
            self._execute(f"RELEASE SAVEPOINT {reader.name}")
            reader.owner.savepoint = None
        name = f"test_savepoint_{next(self._names)}"
        self._execute(f"SAVEPOINT {name}")
        self._stack.append(_Savepoint(owner, name))
        return name

    def mark_written(self, name: str) -> None:
        for savepoint in reversed(self._stack):
            if savepoint.name == name:
                savepoint.written = True
                return

    def close_savepoint(self, name: str, *, commit: bool) -> None:
        """Release (commit) or roll back ``name`` and every savepoint above it.

        Savepoints above it belong to connections opened after this one and
        still open (interleaved transactions): their work goes with it.
        """
        while self._stack:
            top = self._stack.pop()
            top.owner.savepoint = None
            if top.name == name:
                break
        if not commit:
            self._execute(f"ROLLBACK TO SAVEPOINT {name}")
        self._execute(f"RELEASE SAVEPOINT {name}")

    def end(self) -> None:
        """The test is over: connections it left behind may no longer act."""
        self.ended = True

    def _execute(self, sql: str) -> None:
        cursor = self.dbapi_connection.cursor()
        try:
            cursor.execute(sql)
        finally:
            cursor.close()


class LogicalConnection:
    """What a pool checkout returns during a test; see the module docstring."""

    def __init__(self, shared: SharedConnection) -> None:
        self._shared = shared
        self.savepoint: str | None = None

    def cursor(self, *args: Any, **kwargs: Any) -> "LogicalCursor":
        self._check_alive()
        cursor = self._shared.dbapi_connection.cursor(*args, **kwargs)
        return LogicalCursor(self, cursor)

    def execute(self, sql: Any, *args: Any, **kwargs: Any) -> Any:
        """psycopg's ``Connection.execute`` shortcut."""
        cursor = self.cursor()
        return cursor.execute(sql, *args, **kwargs)

    def commit(self) -> None:
        self._check_alive()
        if self.savepoint is not None:
            self._shared.close_savepoint(self.savepoint, commit=True)

    def rollback(self) -> None:
        if self.savepoint is not None and not self._shared.ended:
            self._shared.close_savepoint(self.savepoint, commit=False)

    def close(self) -> None:
        self.rollback()

    def before_statement(self, sql: Any) -> bool:
        """Run ``sql``'s transaction control here; return whether to send it on."""
        self._check_alive()
        words = sql.split(None, 2) if isinstance(sql, str) else ["?"]
        verb = words[0].upper().rstrip(";") if words else ""
        if verb in BEGIN:
            return False  # a transaction starts with the first statement anyway
        if verb in COMMIT:
            self.commit()
            return False
        if verb == ROLLBACK and (len(words) < 2 or words[1].upper() != "TO"):
            self.rollback()
            return False
        if self.savepoint is None:
            self.savepoint = self._shared.open_savepoint(self)
        if verb not in READ_ONLY:
            self._shared.mark_written(self.savepoint)
        return True

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("autocommit", "isolation_level"):
            raise IsolationError(
                "a test cannot switch a connection to autocommit or another"
                " isolation level: all it does runs in the test's transaction."
                " Use the new_database fixture for such work."
            )
        super().__setattr__(name, value)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._shared.dbapi_connection, name)

    def _check_alive(self) -> None:
        if self._shared.ended:
            raise IsolationError(
                "this connection belonged to a test that has ended; close"
                " sessions and connections within the test that opened them"
            )


class LogicalCursor:
    """A real cursor; each statement first passes ``before_statement``."""

    def __init__(self, connection: LogicalConnection, cursor: Any) -> None:
        self._connection = connection
        self._cursor = cursor

    def execute(self, sql: Any, *args: Any, **kwargs: Any) -> Any:
        if self._connection.before_statement(sql):
            self._cursor.execute(sql, *args, **kwargs)
        return self

    def executemany(self, sql: Any, *args: Any, **kwargs: Any) -> Any:
        if self._connection.before_statement(sql):
            self._cursor.executemany(sql, *args, **kwargs)
        return self

    def executescript(self, sql: str) -> Any:
        self._connection.before_statement("SCRIPT")
        return self._cursor.executescript(sql)

    def copy(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        self._connection.before_statement("COPY")
        return self._cursor.copy(statement, *args, **kwargs)

    def __iter__(self) -> Any:
        return iter(self._cursor)

    def __enter__(self) -> "LogicalCursor":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._cursor.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)
