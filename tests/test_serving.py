"""A generated app served as in production survives database faults and bad clients.

Each test serves the rendered default project with gunicorn on a loopback
port and talks to it over real sockets: a PostgreSQL restart under load and
one while idle (only pool_pre_ping saves the first requests after that), a
database that is down when the app starts, a multi-row write that fails half
way, and clients that stall or give up. Performance figures live in
`benchmarks/serve_load.py`; nothing here is timed beyond generous deadlines
for recovery.
"""

from __future__ import annotations

import socket
import time
from collections import Counter
from pathlib import Path

import pytest

# gunicorn and HTTP helpers shared with the benchmark (standard library only).
from harness import servers
from harness.checks import check
from harness.http_requests import LOOPBACK, request
from harness.postgres_control import PostgresControl
from harness.servers import libpq_url
from harness.serving_app import (  # fixtures come through conftest's pytest_plugins
    ANSWERS,
    App,
    Poller,
    assert_pools_idle,
    migrated_database,
    serving,
    wait_for,
)

pytestmark = pytest.mark.full

#: How long the app may take to answer 200 again once the database is back.
RECOVERY_DEADLINE = 5.0


# --------------------------------------------------------------------------
# 1. PostgreSQL restarts while the app is under load
# --------------------------------------------------------------------------


@check("gunicorn: PostgreSQL restart under load", ANSWERS)
def test_recovers_after_postgres_restart(app: App, restartable_postgres: PostgresControl) -> None:
    pg = restartable_postgres
    url = servers.fresh_database(pg.url, "restart")
    app.flask(url, "db", "upgrade")
    # Threaded workers with fewer pooled connections than threads: the case
    # where stale connections and waiting threads meet.
    server = app.gunicorn(
        url, "restart", threads=4, DATABASE_POOL_SIZE="2", DATABASE_MAX_OVERFLOW="0"
    )
    with serving(server):
        created = request(server.port, "POST", "/api/users", json_body={"username": "survivor"})
        assert created.status == 201, created.body
        user_path = f"/api/users/{created.json()['id']}"
        paths = ["/health", user_path]

        with Poller(server.port, paths, threads=4, max_requests=20_000, max_seconds=40) as poller:
            time.sleep(1.0)
            stopped_at = time.monotonic()
            pg.stop()
            time.sleep(2.0)
            pg.start()
            back_at = time.monotonic()

            def recovered() -> bool:
                after = [s for s in poller.snapshot() if s.started >= back_at]
                return all(any(s.path == p and s.status == 200 for s in after) for p in paths)

            assert wait_for(recovered, RECOVERY_DEADLINE + 5), "the app never answered 200 again"
            recovered_at = max(
                min(
                    s.ended
                    for s in poller.snapshot()
                    if s.started >= back_at and s.path == p and s.status == 200
                )
                for p in paths
            )
            time.sleep(2.0)  # keep the load on after recovery
        samples = poller.snapshot()

        before = [s for s in samples if s.ended < stopped_at]
        during = [s for s in samples if stopped_at <= s.started < back_at]
        after = [s for s in samples if s.started > recovered_at]
        print(
            f"recovered {recovered_at - back_at:.2f}s after PostgreSQL was back; while down: "
            f"{dict(Counter((s.path, s.status) for s in during))}; after: {len(after)} requests"
        )
        assert before and all(s.status == 200 for s in before), [
            s for s in before if s.status != 200
        ][:5]
        assert during, "no request was made while the database was down"
        assert recovered_at - back_at <= RECOVERY_DEADLINE, (
            f"recovery took {recovered_at - back_at:.2f}s"
        )
        failures = [s for s in after if s.status != 200]
        assert len(after) >= 20 and not failures, failures[:5]
        # While it was down, health said so; nothing hung or dropped the connection.
        health_down = {s.status for s in during if s.path == "/health"}
        assert health_down <= {200, 503}, health_down
        assert all(s.status is not None for s in samples), [s for s in samples if s.status is None][
            :5
        ]
        assert_pools_idle(server)

        # A restart nobody sees: no traffic while it is down, so each worker's
        # pool still holds connections to the old server process. Only
        # pool_pre_ping stands between them and the first requests after it.
        assert all(r.status == 200 for r in server.reach_every_worker(user_path).values())
        pg.stop()
        pg.start()
        first = server.reach_every_worker(user_path)
        assert set(first) == server.worker_pids(), "a worker did not answer after the restart"
        assert all(r.status == 200 for r in first.values()), {
            pid: r.body[:200] for pid, r in first.items()
        }
        assert_pools_idle(server)


# --------------------------------------------------------------------------
# 2. The database is down when the app starts
# --------------------------------------------------------------------------


@check("gunicorn: database down at start", ANSWERS)
def test_starts_without_database_and_recovers(
    app: App, restartable_postgres: PostgresControl
) -> None:
    pg = restartable_postgres
    url = servers.fresh_database(pg.url, "late")
    pg.stop()
    with serving(app.gunicorn(url, "late")) as server:
        began = time.monotonic()
        assert request(server.port, "GET", "/health", timeout=10).status == 503
        assert time.monotonic() - began < 5, "an unreachable database made /health hang"
        down = server.reach_every_worker("/health")
        assert set(down) == server.worker_pids()
        for resp in down.values():
            assert resp.status == 503, resp.body
            assert resp.headers["content-type"].startswith("application/json")
            body = resp.json()
            assert body["database"] == "unavailable" and "database" in body["message"], body

        pg.start()
        app.flask(url, "db", "upgrade")

        def every_worker_healthy() -> bool:
            answers = server.reach_every_worker("/health", rounds=2)
            return set(answers) == server.worker_pids() and all(
                r.status == 200 for r in answers.values()
            )

        assert wait_for(every_worker_healthy, RECOVERY_DEADLINE)
        for number in range(10):
            made = request(
                server.port, "POST", "/api/users", json_body={"username": f"late-{number}"}
            )
            assert made.status == 201, made.body
        assert request(server.port, "GET", "/api/users").json()["total"] == 10
        assert_pools_idle(server)


# --------------------------------------------------------------------------
# 3. A multi-row write fails half way
# --------------------------------------------------------------------------


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
@check("gunicorn: failed batch write leaves nothing behind", ANSWERS)
def test_failed_batch_rolls_back_while_served(
    app: App, database: str, postgres_url: str, tmp_path: Path
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'served.sqlite3'}"
        if database == "sqlite"
        else migrated_database(app, postgres_url, "batch")
    )
    if database == "sqlite":
        app.flask(url, "db", "upgrade")
    with serving(app.gunicorn(url, "batch")) as server:
        clash = request(server.port, "POST", "/api/users", json_body={"username": "clash-15"})
        assert clash.status == 201, clash.body

        user_path = f"/api/users/{clash.json()['id']}"

        # Batches of 10: 0-9 commit, 10-19 hits clash-15 and must vanish whole,
        # 20-29 never start. The app keeps serving throughout.
        with Poller(
            server.port, ["/health", user_path], threads=2, max_requests=5_000, max_seconds=60
        ) as poller:
            seeded = app.flask(
                url,
                "seed",
                "--count",
                "30",
                "--batch-size",
                "10",
                "--prefix",
                "clash-",
                must_succeed=False,
            )
        assert seeded.returncode != 0, f"the clashing batch did not fail:\n{seeded.stdout}"
        samples = poller.snapshot()
        assert samples and all(s.status == 200 for s in samples), [
            s for s in samples if s.status != 200
        ][:5]

        listing = request(server.port, "GET", "/api/users?per_page=100").json()
        names = {item["username"] for item in listing["items"]}
        assert names == {"clash-15", *(f"clash-{n}" for n in range(10))}, sorted(names)
        assert listing["total"] == 11

        assert request(server.port, "GET", "/health").status == 200
        after = request(server.port, "POST", "/api/users", json_body={"username": "clash-20"})
        assert after.status == 201, after.body
        assert request(server.port, "GET", f"/api/users/{after.json()['id']}").status == 200
        assert_pools_idle(server)


# --------------------------------------------------------------------------
# 4. Clients that stall or give up
# --------------------------------------------------------------------------


@check("gunicorn: stalled client", ANSWERS)
def test_stalled_client_does_not_block_others_or_keep_a_connection(
    app: App, postgres_url: str
) -> None:
    url = migrated_database(app, postgres_url, "stall")
    # Sync workers (gunicorn's default) are the ones a slow client can pin;
    # --timeout bounds how long.
    with serving(app.gunicorn(url, "stall", timeout=2)) as server:
        made = request(server.port, "POST", "/api/users", json_body={"username": "patient"})
        assert made.status == 201
        user_path = f"/api/users/{made.json()['id']}"
        workers_before = server.worker_pids()

        with socket.create_connection((LOOPBACK, server.port), timeout=30) as stalled:
            stalled.sendall(f"GET {user_path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".encode())
            served = []
            for _ in range(20):
                began = time.monotonic()
                resp = request(server.port, "GET", user_path, timeout=10)
                served.append((resp.status, time.monotonic() - began))
            assert all(status == 200 for status, _ in served), served
            # The pinned worker is killed at --timeout and replaced.
            assert wait_for(lambda: bool(workers_before - server.worker_pids()), 15, 0.2), (
                server.log_tail()
            )
            assert wait_for(lambda: len(server.worker_pids()) == 2, 15, 0.2)
        assert "WORKER TIMEOUT" in server.log_tail(20_000)
        assert request(server.port, "GET", user_path).status == 200
        assert_pools_idle(server)


@check("gunicorn: client gives up on a slow query", ANSWERS)
def test_abandoned_request_returns_its_connection(app: App, postgres_url: str) -> None:
    import psycopg

    url = migrated_database(app, postgres_url, "abandon")
    libpq = libpq_url(url)
    server = app.gunicorn(
        url, "abandon", threads=4, DATABASE_POOL_SIZE="2", DATABASE_MAX_OVERFLOW="0"
    )
    with serving(server):
        made = request(server.port, "POST", "/api/users", json_body={"username": "blocked"})
        assert made.status == 201
        user_path = f"/api/users/{made.json()['id']}"

        with psycopg.connect(libpq) as locker:
            locker.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
            with pytest.raises(TimeoutError):
                request(server.port, "GET", user_path, timeout=1.0)  # the client gives up
            # The stuck request holds one of its worker's two connections;
            # the rest of the app still answers.
            for _ in range(10):
                assert request(server.port, "GET", "/health", timeout=5).status == 200
            locker.rollback()  # the query the client abandoned now finishes

        assert_pools_idle(server)
        with psycopg.connect(libpq, autocommit=True) as conn:

            def no_open_transactions() -> bool:
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND state LIKE 'idle in transaction%'"
                ).fetchone()
                return row is not None and row[0] == 0

            assert wait_for(no_open_transactions, 5), "a transaction was left open"
        assert request(server.port, "GET", user_path).status == 200
