"""Counting the SQL statements a block runs: the guard against N+1 loads."""

from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from sqlalchemy import Engine, event

#: Transaction control is not a query (Django's ``assertNumQueries`` agrees),
#: nor is the per-transaction ``set_config`` that ``pooler.py`` issues behind
#: PgBouncer: a block runs as many queries with ``DATABASE_POOLER`` as without.
TRANSACTION_CONTROL = (
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "SAVEPOINT",
    "RELEASE",
    "SELECT SET_CONFIG(",
)


@contextmanager
def max_queries(engines: Iterable[Engine], limit: int) -> Iterator[list[str]]:
    """Fail when the block runs more than ``limit`` statements on ``engines``.

    The failure lists every statement the block ran, in order.
    """
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(TRANSACTION_CONTROL):
            statements.append(statement)

    with ExitStack() as stack:
        for engine in set(engines):
            event.listen(engine, "before_cursor_execute", record)
            stack.callback(event.remove, engine, "before_cursor_execute", record)
        yield statements
    if len(statements) > limit:
        listing = "\n".join(f"  {n}. {sql}" for n, sql in enumerate(statements, 1))
        raise AssertionError(
            f"expected at most {limit} queries, the block ran {len(statements)}:\n"
            f"{listing}"
        )
