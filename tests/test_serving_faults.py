"""Writes under database faults, served by gunicorn: nothing lost, nothing phantom.

Clients keep creating users while PostgreSQL's backends are killed, the users
table is locked for 15 s, and the server is stopped and started. Every answer
is then checked against the rows: no 201 may be missing (lost), no failed
request may have left its row (phantom), every 5xx is JSON with Retry-After,
no request waits past the app's timeouts, and no connection stays checked
out. The figures are printed (`bin/test tests/test_serving_faults.py -s`).
"""

from __future__ import annotations

import pytest

from harness import servers
from harness.checks import check
from harness.db_faults import writes_under_faults
from harness.postgres_control import PostgresControl
from harness.servers import libpq_url
from harness.serving_app import (  # fixtures come through conftest's pytest_plugins
    ANSWERS,
    App,
    assert_pools_idle,
    serving,
)

pytestmark = pytest.mark.full

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


@check("gunicorn: writes under killed backends, a locked table, a restart", ANSWERS)
def test_no_write_is_lost_or_phantom_under_faults(
    app: App, restartable_postgres: PostgresControl
) -> None:
    pg = restartable_postgres
    url = servers.fresh_database(pg.url, "faults")
    app.flask(url, "db", "upgrade")
    libpq = libpq_url(url)
    server = app.gunicorn(url, "faults", threads=4, **TIMEOUTS)
    with serving(server):
        figures, recovery = writes_under_faults(
            server.port, libpq, pg.restart, lock_seconds=LOCK_SECONDS
        )
        print(f"faults: {figures}; recovery (s): {recovery}")
        assert_pools_idle(server)

    assert figures["lost"] == 0, figures
    assert figures["phantom"] == 0, figures
    assert figures["non_json_5xx"] == 0 and figures["5xx_without_retry_after"] == 0, figures
    assert figures["unanswered"] == 0, figures
    assert figures["slowest_s"] <= LONGEST_WAIT, figures
    assert figures["statuses"].get(503), "the faults never showed: the test proves nothing"
    late = {fault: s for fault, s in recovery.items() if s is None or s > RECOVERY_DEADLINE}
    assert not late, recovery
