"""The served project and the tools the serving tests share.

The rendered default project with its venv (`App`, fixture `app`), gunicorn
serving it (`serving`, `assert_pools_idle`), a private PostgreSQL server to
stop and start (fixtures `private_postgres`, `restartable_postgres`), clients
that keep asking with a timeline (`Poller`), and migrated databases made
cheaply. Test modules import the fixtures by name.
"""

from __future__ import annotations

import contextlib
import http.client
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from harness import servers
from harness.client_threads import ClientThreads
from harness.commands import clean_env, run

# gunicorn and HTTP helpers shared with the benchmark (standard library only).
from harness.gunicorn import Gunicorn
from harness.http_requests import request
from harness.postgres_control import PostgresControl
from harness.rendering import Render, package_name
from harness.servers import libpq_url
from harness.venvs import tool_env, venv_bin

ANSWERS: dict[str, Any] = {"project_name": "Demo App"}
SECRET_KEY = "serving-tests-" + "s" * 32


# --------------------------------------------------------------------------
# The served project
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class App:
    """The rendered project, its venv, and how to run its tools and serve it."""

    path: Path
    venv: Path
    package: str
    logs: Path

    def env(self, database_url: str, **extra: str) -> dict[str, str]:
        """What production sets: the database, a secret key, the debug pool endpoint."""
        return clean_env(
            tool_env(
                self.venv,
                {
                    "DATABASE_URL": database_url,
                    "SECRET_KEY": SECRET_KEY,
                    "FLASK_POOL_STATUS_ENDPOINT": "true",
                    **extra,
                },
            )
        )

    def flask(
        self, database_url: str, *args: str, must_succeed: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """`flask --app <package> ...` from the project root, as its README says."""
        return run(
            [venv_bin(self.venv, "flask"), "--app", self.package, *args],
            cwd=self.path,
            env=self.env(database_url),
            timeout=120,
            must_succeed=must_succeed,
        )

    def gunicorn(
        self, database_url: str, name: str, *, threads: int = 1, timeout: int = 30, **extra: str
    ) -> Gunicorn:
        """gunicorn with 2 workers serving `create_app()` (not started yet)."""
        return Gunicorn(
            venv=self.venv,
            app=f"{self.package}:create_app()",
            cwd=self.path,
            env=self.env(database_url, **extra),
            log_dir=self.logs / name,
            workers=2,
            threads=threads,
            timeout=timeout,
        )


@pytest.fixture
def app(render: Render, project_env: Callable[[Path], Path], tmp_path: Path) -> App:
    """The default render, installed (its dev extra brings psycopg for PostgreSQL)."""
    project = render(ANSWERS)
    return App(project, project_env(project), package_name(project), tmp_path / "logs")


@contextlib.contextmanager
def serving(server: Gunicorn) -> Iterator[Gunicorn]:
    """Serve for the block; on failure, show gunicorn's log in the report."""
    try:
        with server:
            yield server
    except BaseException:
        print(f"--- gunicorn log ({server.error_log}) ---\n{server.log_tail()}")
        raise


def assert_pools_idle(server: Gunicorn, wait: float = 5.0) -> dict[int, Any]:
    """Every live worker reports nothing checked out (retrying briefly, bounded)."""
    deadline = time.monotonic() + wait
    while True:
        by_worker = server.pool_by_worker()
        workers = server.worker_pids()
        checked = {pid: body["checked_out"] for pid, body in by_worker.items()}
        if set(checked) == workers and not any(checked.values()):
            return by_worker
        if time.monotonic() > deadline:
            raise AssertionError(f"pools not idle: {checked} (live workers {sorted(workers)})")
        time.sleep(0.2)


# --------------------------------------------------------------------------
# A PostgreSQL server of our own, to stop and start
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def private_postgres(postgres_url: str) -> Iterator[PostgresControl]:
    """Our own PostgreSQL (asking for `postgres_url` first makes a missing
    server skip, or fail on CI, the way the rest of the suite does)."""
    with servers.postgres_server() as url:
        yield PostgresControl.attach(url)


@pytest.fixture
def restartable_postgres(private_postgres: PostgresControl) -> Iterator[PostgresControl]:
    """The private server, running at the start and the end of each test."""
    private_postgres.start()
    yield private_postgres
    private_postgres.start()


# --------------------------------------------------------------------------
# A client that keeps asking, with a timeline
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One request: when it started and ended, and what came back."""

    started: float
    ended: float
    path: str
    status: int | None  # None: no HTTP response (connection refused, reset, timeout)
    detail: str


class Poller(ClientThreads):
    """Threads that GET paths in turn until stopped; bounded in count and time."""

    def __init__(
        self, port: int, paths: list[str], *, threads: int, max_requests: int, max_seconds: float
    ) -> None:
        super().__init__(threads, join_seconds=20)
        self.port = port
        self.paths = paths
        self.samples: list[Sample] = []
        self._budget = iter(range(max_requests))
        self._deadline = time.monotonic() + max_seconds

    def loop(self, number: int) -> None:
        turn = number
        while not self.stopped() and time.monotonic() < self._deadline:
            with self._lock:
                if next(self._budget, None) is None:
                    return
            path = self.paths[turn % len(self.paths)]
            turn += 1
            started = time.monotonic()
            try:
                resp = request(self.port, "GET", path, timeout=15)
                status, detail = resp.status, resp.body[:200].decode(errors="replace")
            except (OSError, http.client.HTTPException) as error:
                status, detail = None, repr(error)
            with self._lock:
                self.samples.append(Sample(started, time.monotonic(), path, status, detail))
            time.sleep(0.01)

    def snapshot(self) -> list[Sample]:
        with self._lock:
            return sorted(self.samples, key=lambda s: s.started)


#: (server URL, project path) -> the database `flask db upgrade` ran on.
_MIGRATED: dict[tuple[str, str], str] = {}


def migrated_database(app: App, server_url: str, name: str) -> str:
    """A new database on the server with the project's migrations applied.

    `flask db upgrade` runs once per server and project; later databases are
    copies of that one (`CREATE DATABASE ... TEMPLATE`), much cheaper than
    starting the flask command again. (Tests about migrating run it themselves.)
    """
    import psycopg
    from psycopg import sql

    key = (server_url, str(app.path))
    if key not in _MIGRATED:
        url = servers.fresh_database(server_url, "migrated")
        app.flask(url, "db", "upgrade")
        _MIGRATED[key] = urlsplit(url).path.lstrip("/")
    copy = f"{name}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(libpq_url(server_url), autocommit=True) as conn:
        statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}")
        conn.execute(statement.format(sql.Identifier(copy), sql.Identifier(_MIGRATED[key])))
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{copy}"))


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll until `predicate()` holds or `timeout` passes; say which."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
