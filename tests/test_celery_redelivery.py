"""A Celery worker killed mid-task: the task is delivered again and completes once.

A real worker (prefork pool, as deployed) on a real Redis and PostgreSQL runs
the project's example task, a bulk import in many small batches. It is
SIGKILLed once some batches have committed: the whole worker (a new one gets
the unacknowledged task back after the visibility timeout, made short here
through `CELERY_VISIBILITY_TIMEOUT`), or only the pool process running the task
(the worker requeues it at once). The rerun inserts exactly the rows the first
run had not: every name once, none lost.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from harness import servers
from harness.checks import check
from harness.commands import clean_env, run
from harness.matrix import (
    matrix_answers,
    template_questions,
)
from harness.rendering import Render
from harness.venvs import tool_env, venv_bin

pytestmark = pytest.mark.full

ANSWERS = matrix_answers(
    template_questions(),
    {"database": "postgresql", "task_queue": "celery"},
)
PACKAGE = "demo_app"
NAMES = 60_000
BATCH = 300
VISIBILITY_TIMEOUT = 2

#: The example task, found by name wherever the project defines it.
SUBMIT = f"""
from {PACKAGE}.worker import celery
task = next(t for n, t in celery.tasks.items() if n.endswith(".import_usernames"))
names = [f"imported-{{number}}" for number in range({NAMES})]
print(task.delay(names, batch_size={BATCH}).id)
"""

RESULT = f"""
import sys
from {PACKAGE}.worker import celery
print(celery.AsyncResult(sys.argv[1]).get(timeout=90))
"""


def _count(url: str) -> int:
    with psycopg.connect(url.replace("+psycopg", "", 1)) as connection:
        row = connection.execute("SELECT count(*) FROM users").fetchone()
    return int(row[0]) if row else 0


@contextlib.contextmanager
def _worker(venv: Path, project: Path, env: dict[str, str], log: Path) -> Iterator[int]:
    """A `celery worker` (prefork, one child) in its own process group; yield its pid."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                *(venv_bin(venv, "celery"), "-A", f"{PACKAGE}.worker", "worker"),
                *("--pool", "prefork", "--concurrency", "1", "--loglevel", "INFO"),
            ],
            cwd=project,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def _pool_children(pid: int) -> list[int]:
    """The worker's prefork pool processes (children of its main process)."""
    with contextlib.suppress(OSError):
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []


@check("killed Celery worker: task redelivered, completed once", ANSWERS)
@pytest.mark.parametrize("victim", ["whole worker", "pool process"])
def test_task_of_a_killed_worker_is_redelivered_and_completes_once(
    render: Render,
    project_env: Any,
    postgres_url: str,
    redis_url: str,
    tmp_path: Path,
    victim: str,
) -> None:
    """The whole worker: Redis redelivers after the visibility timeout to a new
    worker. Only its pool process: the worker itself requeues the task at once
    (`task_reject_on_worker_lost`) and a new pool process reruns it."""
    project = render(ANSWERS)
    venv = project_env(project)
    url = servers.fresh_database(postgres_url, "redelivery")
    env = clean_env(
        tool_env(
            venv,
            {
                "DATABASE_URL": url,
                "SECRET_KEY": secrets.token_hex(32),
                "CELERY_BROKER_URL": redis_url,
                "CELERY_RESULT_BACKEND": redis_url,
                "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
            },
        )
    )
    python = venv_bin(venv, "python")
    run([venv_bin(venv, "flask"), "--app", PACKAGE, "db", "upgrade"], cwd=project, env=env)
    log = tmp_path / "worker.log"

    with contextlib.ExitStack() as stack:
        pid = stack.enter_context(_worker(venv, project, env, log))
        task_id = run([python, "-c", SUBMIT], cwd=project, env=env).stdout.strip()
        deadline = time.monotonic() + 60
        while _count(url) == 0:
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            time.sleep(0.01)
        if victim == "whole worker":
            os.killpg(pid, signal.SIGKILL)
        else:
            for child in _pool_children(pid):
                os.kill(child, signal.SIGKILL)
        committed = _count(url)
        assert 0 < committed < NAMES, f"killed too late to be mid-task: {committed} rows"
        if victim == "whole worker":
            stack.close()
            time.sleep(VISIBILITY_TIMEOUT + 0.5)
            stack.enter_context(_worker(venv, project, env, log))
        rerun = run([python, "-c", RESULT, task_id], cwd=project, env=env, timeout=120)

    assert int(rerun.stdout) == NAMES - committed, log.read_text(errors="replace")[-3000:]
    with psycopg.connect(url.replace("+psycopg", "", 1)) as connection:
        rows = connection.execute(
            "SELECT count(*), count(DISTINCT username) FROM users WHERE username LIKE 'imported-%'"
        ).fetchone()
    assert rows == (NAMES, NAMES)
