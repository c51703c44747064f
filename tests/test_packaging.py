"""The wheel carries what the app needs and runs outside the source tree; the
secret in `.env` is random and stays out of git.

Answer sets are matrix answer sets (`harness.answer_sets`): matrix renders are reused.
"""

from __future__ import annotations

import sqlite3
import sys
import zipfile
from pathlib import Path

import pytest

from harness.answer_sets import default_answers
from harness.checks import check
from harness.commands import run
from harness.rendering import Answers, Render, package_name
from harness.venvs import VenvPool, tool_env, venv_bin

# --------------------------------------------------------------------------
# Packaging
# --------------------------------------------------------------------------


@pytest.mark.full
@default_answers
@check("wheel works outside the source tree")
def test_wheel_carries_migrations_and_runs_outside_the_source_tree(
    render: Render, venv_pool: VenvPool, tmp_path: Path, answers: Answers
) -> None:
    """A deployment installs the wheel, not the checkout: the migrations and
    py.typed must be inside it, and `db upgrade` must find them from anywhere."""
    project = render(answers)
    package = package_name(project)
    uv_env: dict[str, str | None] = {
        "UV_CACHE_DIR": str(venv_pool.uv_cache),
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_NO_PROGRESS": "1",
    }
    # Build from a clone: what is committed must be enough, and the shared
    # render stays free of build/ and *.egg-info.
    source = tmp_path / "source"
    run(["git", "clone", "--quiet", project, source], cwd=tmp_path)
    dist = tmp_path / "dist"
    run(
        [venv_pool.uv, "build", "--wheel", "--python", sys.executable, "--out-dir", dist, source],
        cwd=tmp_path,
        env=uv_env,
    )
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    migrations = project / "src" / package / "migrations"
    wanted = {f"{package}/py.typed"} | {
        f"{package}/migrations/{p.relative_to(migrations)}"
        for p in [
            migrations / "env.py",
            migrations / "alembic.ini",
            migrations / "script.py.mako",
            *sorted((migrations / "versions").glob("*.py")),
        ]
    }
    assert len(wanted) > 4, "no migration scripts in the project"
    assert wanted <= names, f"missing from the wheel: {sorted(wanted - names)}"
    strays = sorted(n for n in names if n.startswith(("tests/", "scripts/")) or n.endswith(".env"))
    assert not strays, f"the wheel carries {strays}"

    venv = tmp_path / "venv"
    run(
        [venv_pool.uv, "venv", "--quiet", "--python", sys.executable, venv],
        cwd=tmp_path,
        env=uv_env,
    )
    run(
        [
            venv_pool.uv,
            "pip",
            "install",
            "--quiet",
            "--compile-bytecode",
            "--python",
            venv_bin(venv, "python"),
            wheel,
        ],
        cwd=tmp_path,
        env=uv_env,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    database = tmp_path / "app.db"
    app_env = tool_env(
        venv,
        {"DATABASE_URL": f"sqlite:///{database}", "SECRET_KEY": "packaging-test-" + "key-" * 8},
    )
    flask = venv_bin(venv, "flask")
    run([flask, "--app", package, "db", "upgrade"], cwd=elsewhere, env=app_env)
    run([flask, "--app", package, "db", "check"], cwd=elsewhere, env=app_env)
    with sqlite3.connect(database) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert {"alembic_version", "users"} <= tables, tables
    probe = (
        f"from {package} import create_app; c = create_app().test_client(); "
        "r = c.get('/health'); assert r.status_code == 200, (r.status_code, r.data)"
    )
    run([venv_bin(venv, "python"), "-c", probe], cwd=elsewhere, env=app_env)
    assert sorted(p.name for p in elsewhere.iterdir()) == [], "the app wrote into its cwd"


# --------------------------------------------------------------------------
# Secrets and .gitignore
# --------------------------------------------------------------------------


def _secret_key(project: Path) -> str:
    """The SECRET_KEY the render wrote into .env."""
    for line in (project / ".env").read_text().splitlines():
        if line.startswith("SECRET_KEY="):
            return line.removeprefix("SECRET_KEY=").strip()
    raise AssertionError(f"no SECRET_KEY in {project / '.env'}")


@pytest.mark.render
@default_answers
@check(".env ignored, random SECRET_KEY")
def test_env_file_stays_out_of_git_and_holds_a_random_secret(
    render: Render, tmp_path: Path, answers: Answers
) -> None:
    """`git add -A` right after generating (as the render fixture and the
    README's next steps do) must not commit the secret."""
    project = render(answers)
    tracked = run(["git", "ls-files"], cwd=project).stdout.splitlines()
    assert ".env" not in tracked, tracked
    for path in (".env", "instance/app.sqlite3"):
        run(["git", "check-ignore", "--quiet", path], cwd=project)
    patterns = (project / ".gitignore").read_text().splitlines()
    assert {".env", "instance/"} <= set(patterns), patterns

    key = _secret_key(project)
    assert len(key) >= 32, "SECRET_KEY is too short to be a secret"
    leaks = [path for path in tracked if key in (project / path).read_text(errors="replace")]
    assert not leaks, f"the secret is also in committed files: {leaks}"
    other = render(answers, dst=tmp_path / "second")
    assert _secret_key(other) != key, "two projects got the same SECRET_KEY"
