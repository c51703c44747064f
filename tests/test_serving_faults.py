"""Writes under database faults, served by gunicorn: nothing lost, nothing phantom.

Clients keep creating users while PostgreSQL's backends are killed, the users
table is locked for 15 s, and the server is stopped and started. Every answer
is then checked against the rows: no 201 may be missing (lost), no failed
request may have left its row (phantom), every 5xx is JSON with Retry-After,
no request waits past the app's timeouts, and no connection stays checked
out. The figures are printed (`bin/test tests/test_serving_faults.py -s`).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psycopg
import pytest

import servers

sys.path.append(str(Path(__file__).resolve().parent.parent / "benchmarks"))
from _write_ledger import WriteLedger
from test_serving import (  # the served project and the private server (fixtures too)
    ANSWERS,
    App,
    PostgresControl,
    _libpq,
    app,
    assert_pools_idle,
    private_postgres,
    restartable_postgres,
    serving,
    wait_for,
)

from projects import check

pytestmark = pytest.mark.full
__all__ = ["app", "private_postgres", "restartable_postgres"]  # fixtures used by name

#: Short limits, so the faults show within seconds (the defaults are longer).
TIMEOUTS = {
    "DATABASE_LOCK_TIMEOUT": "2",
    "DATABASE_STATEMENT_TIMEOUT": "5",
    "DATABASE_POOL_TIMEOUT": "2",
    "DATABASE_CONNECT_TIMEOUT": "2",
}
#: The longest any request may take: the lock wait plus a pool wait plus slack.
LONGEST_WAIT = 8.0
RECOVERY_DEADLINE = 5.0
LOCK_SECONDS = 15


def kill_backends(libpq: str, rounds: int = 3) -> None:
    """pg_terminate_backend on every connection the app holds, a few times."""
    with psycopg.connect(libpq, autocommit=True) as admin:
        for _ in range(rounds):
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            time.sleep(0.5)


def lock_users(libpq: str, seconds: float) -> None:
    """ACCESS EXCLUSIVE on the users table from another connection."""
    with psycopg.connect(libpq) as locker:
        locker.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        time.sleep(seconds)
        locker.rollback()


def restart(pg: PostgresControl) -> None:
    """`pg_ctl stop -m fast`, two seconds down, then start again."""
    pg.stop()
    time.sleep(2.0)
    pg.start()


def stored_usernames(libpq: str) -> set[str]:
    with psycopg.connect(libpq) as conn:
        return {row[0] for row in conn.execute("SELECT username FROM users")}


@check("gunicorn: writes under killed backends, a locked table, a restart", ANSWERS)
def test_no_write_is_lost_or_phantom_under_faults(
    app: App, restartable_postgres: PostgresControl
) -> None:
    pg = restartable_postgres
    url = servers.fresh_database(pg.url, "faults")
    app.flask(url, "db", "upgrade")
    libpq = _libpq(url)
    server = app.gunicorn(url, "faults", threads=4, **TIMEOUTS)
    faults = {
        "killed backends": lambda: kill_backends(libpq),
        "locked table": lambda: lock_users(libpq, LOCK_SECONDS),
        "server restart": lambda: restart(pg),
    }
    recovery: dict[str, float] = {}
    with serving(server):
        with WriteLedger(server.port, "faulty-", threads=4) as ledger:
            time.sleep(1.0)
            for fault, inflict in faults.items():
                inflict()
                ended = time.monotonic()
                back = wait_for(
                    lambda: ledger.first_success_after(ended) is not None,  # noqa: B023
                    RECOVERY_DEADLINE + 5,
                )
                assert back, f"no write succeeded after the {fault}"
                recovery[fault] = round(ledger.first_success_after(ended) - ended, 2)  # type: ignore[operator]
                time.sleep(1.0)
        figures = ledger.tally(stored_usernames(libpq))
        print(f"faults: {figures}; recovery (s): {recovery}")
        assert_pools_idle(server)

    assert figures["lost"] == 0, figures
    assert figures["phantom"] == 0, figures
    assert figures["non_json_5xx"] == 0 and figures["5xx_without_retry_after"] == 0, figures
    assert figures["unanswered"] == 0, figures
    assert figures["slowest_s"] <= LONGEST_WAIT, figures
    assert figures["statuses"].get(503), "the faults never showed: the test proves nothing"
    assert all(seconds <= RECOVERY_DEADLINE for seconds in recovery.values()), recovery
