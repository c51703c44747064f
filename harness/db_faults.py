"""Database faults inflicted on a served app while clients write through it.

Backends killed (`pg_terminate_backend`), the users table locked from another
connection, the server stopped and started: one after the other, with a
`WriteLedger` running throughout. Shared by the fault test and the benchmark.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg

from harness.write_ledger import WriteLedger

#: How long to wait for a 201 after a fault ends before calling it unrecovered.
RECOVERY_WAIT = 10.0


def kill_backends(libpq: str, rounds: int = 3) -> None:
    """pg_terminate_backend on every connection to the app's database, a few times."""
    with psycopg.connect(libpq, autocommit=True) as admin:
        for _ in range(rounds):
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            time.sleep(0.5)


def lock_users(libpq: str, seconds: float) -> None:
    """ACCESS EXCLUSIVE on the users table from another connection, for `seconds`."""
    with psycopg.connect(libpq) as locker:
        locker.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        time.sleep(seconds)
        locker.rollback()


def stored_usernames(libpq: str) -> set[str]:
    with psycopg.connect(libpq) as conn:
        return {row[0] for row in conn.execute("SELECT username FROM users")}


def writes_under_faults(
    port: int,
    libpq: str,
    restart: Callable[[], None],
    *,
    lock_seconds: float = 15.0,
    prefix: str = "faulty-",
) -> tuple[dict[str, Any], dict[str, float | None]]:
    """Run every fault under write load; the ledger's figures and, per fault,
    seconds from its end to the first 201 (None: never within RECOVERY_WAIT)."""
    faults: dict[str, Callable[[], None]] = {
        "killed backends": lambda: kill_backends(libpq),
        "locked table": lambda: lock_users(libpq, lock_seconds),
        "server restart": restart,
    }
    recovery: dict[str, float | None] = {}
    with WriteLedger(port, prefix, threads=4) as ledger:
        time.sleep(1.0)
        for fault, inflict in faults.items():
            inflict()
            ended = time.monotonic()
            deadline = ended + RECOVERY_WAIT
            while (back := ledger.first_success_after(ended)) is None:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            recovery[fault] = None if back is None else round(back - ended, 2)
            time.sleep(1.0)
    return ledger.tally(stored_usernames(libpq)), recovery
