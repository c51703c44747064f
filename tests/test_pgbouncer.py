"""A PostgreSQL project behind a real PgBouncer in transaction pooling mode.

With `DATABASE_POOLER=pgbouncer` the project's own suite passes through it, and
gunicorn serves through it across a PgBouncer restart with no 5xx and no
"prepared statement" errors. Without the setting, psycopg's prepared
statements collide on PgBouncer's shared server connections, and
`flask doctor` says so.
"""

from __future__ import annotations

import json
import os
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import servers
from harness.checks import check
from harness.commands import clean_env, run
from harness.gunicorn import Gunicorn
from harness.load import Call, run_load
from harness.matrix import (
    matrix_answers,
    template_questions,
)
from harness.pgbouncer import PgBouncer, pgbouncer, pgbouncer_binary
from harness.rendering import Render
from harness.venvs import tool_env, venv_bin

pytestmark = pytest.mark.full

ANSWERS = matrix_answers(template_questions(), {"database": "postgresql"})
PACKAGE = "demo_app"
SECRET_KEY = "pgbouncer-tests-" + "s" * 32
POOLER = {"DATABASE_POOLER": "pgbouncer"}

#: Committed transactions, two different statements on four connections: after
#: five runs psycopg prepares each as `_pg3_0` on whichever server connection
#: PgBouncer lent it, where another client's `_pg3_0` may already be.
COLLIDING_STATEMENTS = f"""
from sqlalchemy import text
from {PACKAGE} import create_app
from {PACKAGE}.extensions import db

failures = 0
with create_app().app_context():
    connections = [db.engine.connect() for _ in range(4)]
    for round_number in range(10):
        for number, connection in enumerate(connections):
            try:
                connection.execute(text(f"SELECT :n + {{number % 2}}"), {{"n": round_number}})
                connection.commit()
            except Exception as error:
                failures += "prepared statement" in str(error)
                connection.rollback()
print(failures)
"""


@pytest.fixture
def bouncer(postgres_url: str) -> Iterator[PgBouncer]:
    """PgBouncer in front of this worker's PostgreSQL server (skipped when not
    installed, except on CI, where it must be)."""
    if pgbouncer_binary() is None:
        message = "pgbouncer not installed (bin/test installs it with apt-get as root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with pgbouncer(postgres_url) as running:
        yield running


@pytest.fixture
def venv(render: Render, project_env: Any) -> Path:
    return project_env(render(ANSWERS))


def _env(venv: Path, database_url: str, **extra: str) -> dict[str, str]:
    return clean_env(
        tool_env(venv, {"DATABASE_URL": database_url, "SECRET_KEY": SECRET_KEY, **extra})
    )


def _database(postgres_url: str, bouncer: PgBouncer, name: str) -> str:
    """A new database on the server, and its URL through PgBouncer."""
    direct = servers.fresh_database(postgres_url, name)
    return bouncer.url(direct.rsplit("/", 1)[1])


@check("project suite through PgBouncer", ANSWERS)
def test_project_suite_passes_through_pgbouncer(
    render: Render, venv: Path, postgres_url: str, bouncer: PgBouncer
) -> None:
    """The suite creates and drops its databases through PgBouncer too."""
    project = render(ANSWERS)
    result = run(
        [venv_bin(venv, "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2"],
        cwd=project,
        env=tool_env(
            venv,
            {"TEST_DATABASE_URL": _database(postgres_url, bouncer, "suite"), **POOLER},
        ),
        timeout=600,
    )
    assert "prepared statement" not in result.stdout


@check("PgBouncer without the setting is caught", ANSWERS)
def test_without_the_setting_statements_collide_and_doctor_fails(
    render: Render, venv: Path, postgres_url: str, bouncer: PgBouncer
) -> None:
    project = render(ANSWERS)
    url = _database(postgres_url, bouncer, "collide")
    python = [venv_bin(venv, "python"), "-c", COLLIDING_STATEMENTS]

    unset = run(python, cwd=project, env=_env(venv, url)).stdout
    pooled = run(python, cwd=project, env=_env(venv, url, **POOLER)).stdout
    assert int(unset) > 0, "prepared statements should collide without the setting"
    assert int(pooled) == 0

    doctor = [venv_bin(venv, "flask"), "--app", PACKAGE, "doctor", "--json"]
    caught = run(doctor, cwd=project, env=_env(venv, url), must_succeed=False)
    assert caught.returncode == 1, caught.stdout + caught.stderr
    assert _finding(caught.stdout, "pgbouncer")["status"] == "fail"
    fixed = run(doctor, cwd=project, env=_env(venv, url, **POOLER), must_succeed=False)
    assert _finding(fixed.stdout, "pgbouncer")["status"] == "ok", fixed.stdout


def _finding(output: str, name: str) -> dict[str, str]:
    findings: list[dict[str, str]] = json.loads(output)
    return next(item for item in findings if item["name"] == name)


@check("serving through a PgBouncer restart", ANSWERS)
def test_serving_survives_a_pgbouncer_restart(
    render: Render, venv: Path, postgres_url: str, bouncer: PgBouncer, tmp_path: Path
) -> None:
    project = render(ANSWERS)
    url = _database(postgres_url, bouncer, "serve")
    env = _env(venv, url, **POOLER)
    flask = [venv_bin(venv, "flask"), "--app", PACKAGE]
    run([*flask, "db", "upgrade"], cwd=project, env=env)
    run([*flask, "users", "create", "ada"], cwd=project, env=env)

    def plan(rng: random.Random, worker: int, sequence: int) -> Call:
        """Writes (committed, so psycopg would prepare them) mixed with reads."""
        if rng.random() < 0.5:
            body = json.dumps({"username": f"user-{uuid.uuid4().hex}"}).encode()
            return Call("create", "POST", "/api/users", body, frozenset({201}))
        return Call("read", "GET", "/api/users/1")

    server = Gunicorn(
        venv=venv,
        app=f"{PACKAGE}:create_app()",
        cwd=project,
        env=env,
        log_dir=tmp_path / "gunicorn",
        workers=2,
        threads=4,
    )
    with server:
        before = run_load(server.port, plan, concurrency=8, duration=10, max_requests=600)
        bouncer.restart()
        after = run_load(server.port, plan, concurrency=8, duration=10, max_requests=600, seed=1)
    log = server.error_log.read_text(errors="replace")

    for phase, result in (("before", before), ("after the restart", after)):
        assert result.requests >= 300, (phase, result.requests, dict(result.errors))
        assert result.server_errors == 0, (phase, dict(result.statuses), log[-3000:])
        assert not result.unexpected and not result.errors, (phase, dict(result.statuses))
    assert "prepared statement" not in log
