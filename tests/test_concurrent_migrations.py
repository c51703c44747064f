"""Replicas that all run `flask db upgrade` at start, at the same moment.

Several upgrades start at once against one empty PostgreSQL database: all exit
0, each migration runs once, and the schema is at head. A slow migration added
to a copy of the project keeps the race window open; without the advisory lock
in `migrations/env.py` the same start fails (the control), so the lock is what
makes it pass.
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest

from harness import servers
from harness.checks import check
from harness.commands import clean_env
from harness.matrix import (
    matrix_answers,
    template_questions,
)
from harness.rendering import Render
from harness.venvs import tool_env, venv_bin

pytestmark = pytest.mark.full

ANSWERS = matrix_answers(template_questions(), {"database": "postgresql"})
PACKAGE = "demo_app"
REPLICAS = 5
LOCK_LINE = 'if connection.dialect.name == "postgresql":'

SLOW_MIGRATION = '''"""Slow on purpose: every replica starts while the first is still in it."""

import sqlalchemy as sa
from alembic import op

revision = "9001"
down_revision = "{head}"


def upgrade() -> None:
    op.create_table("migration_runs", sa.Column("id", sa.Integer, primary_key=True))
    op.execute("INSERT INTO migration_runs DEFAULT VALUES")
    op.execute("SELECT pg_sleep(2)")


def downgrade() -> None:
    op.drop_table("migration_runs")
'''


@pytest.fixture
def slow_project(render: Render, tmp_path: Path) -> Path:
    """A copy of the PostgreSQL project with a slow second migration."""
    project = tmp_path / "project"
    shutil.copytree(render(ANSWERS), project, symlinks=True)
    versions = project / "src" / PACKAGE / "migrations" / "versions"
    (versions / "9001_slow.py").write_text(SLOW_MIGRATION.format(head=_head(versions)))
    return project


def _head(versions: Path) -> str:
    """The newest revision of the project's own migrations (none names it as its parent)."""
    revisions, parents = set(), set()
    for path in versions.glob("*.py"):
        text = path.read_text()
        revision = re.search(r'^revision = "([^"]+)"', text, re.MULTILINE)
        parent = re.search(r'^down_revision = "([^"]+)"', text, re.MULTILINE)
        if revision:
            revisions.add(revision.group(1))
        if parent:
            parents.add(parent.group(1))
    (head,) = revisions - parents
    return head


def _upgrade_at_once(venv: Path, project: Path, url: str) -> list[subprocess.CompletedProcess[str]]:
    """Start every replica's `flask db upgrade` together, then wait for all.

    Server-side timeouts much shorter than the slow migration (libpq's
    PGOPTIONS) prove that waiting replicas are not cut off by them.
    """
    env = clean_env(
        tool_env(
            venv,
            {
                "DATABASE_URL": url,
                "SECRET_KEY": secrets.token_hex(32),
                "PGOPTIONS": "-c lock_timeout=300 -c statement_timeout=5000",
            },
        )
    )
    cmd = [str(venv_bin(venv, "flask")), "--app", PACKAGE, "db", "upgrade"]
    procs = [
        subprocess.Popen(
            cmd,
            cwd=project,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(REPLICAS)
    ]
    results = []
    for proc in procs:
        output, _ = proc.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(cmd, proc.returncode, output))
    return results


@check("concurrent `flask db upgrade`", ANSWERS)
def test_replicas_upgrading_at_once_take_turns(
    slow_project: Path, project_env: Any, postgres_url: str
) -> None:
    venv = project_env(slow_project)
    url = servers.fresh_database(postgres_url, "upgrade_race")

    results = _upgrade_at_once(venv, slow_project, url)

    assert [r.returncode for r in results] == [0] * REPLICAS, [r.stdout[-2000:] for r in results]
    ran = [r for r in results if "Running upgrade  -> 0001" in r.stdout]
    assert len(ran) == 1, [r.stdout[-1000:] for r in results]
    with psycopg.connect(servers.libpq_url(url)) as connection:
        assert connection.execute("SELECT count(*) FROM migration_runs").fetchone() == (1,)
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [
            ("9001",)
        ]
        assert connection.execute("SELECT count(*) FROM users").fetchone() == (0,)

    # The control: the same start without the lock fails.
    env_py = slow_project / "src" / PACKAGE / "migrations" / "env.py"
    source = env_py.read_text()
    assert LOCK_LINE in source
    env_py.write_text(source.replace(LOCK_LINE, "if False:"))
    unlocked = _upgrade_at_once(venv, slow_project, servers.fresh_database(postgres_url, "race"))
    assert any(r.returncode != 0 for r in unlocked), "without the lock the race should show"
