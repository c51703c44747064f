"""The generated project's tooling works as shipped, not just its Python code.

pre-commit, the GitHub workflow, the Docker files, the wheel, and what git keeps
out of the repository are all things an owner meets on the first day; each
answer set here is a matrix answer set (`projects.matrix_answers`), so these
tests reuse the matrix's renders and venvs on the same worker.
"""

from __future__ import annotations

import re
import shlex
import shutil
import sqlite3
import sys
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from packaging.specifiers import SpecifierSet

from harness.checks import check
from harness.commands import run
from harness.git import assert_git_clean
from harness.matrix import (
    closed_answers_id,
    closed_questions,
    committed_copier_config,
    matrix_answers,
)
from harness.rendering import Answers, Render, package_name
from harness.venvs import VenvPool, read_pyproject, tool_env, venv_bin

QUESTIONS = closed_questions(committed_copier_config())
DEFAULTS = matrix_answers(QUESTIONS)
#: Every database and task queue; the tooling questions fixed by each test.
STACKS = [
    {"database": database, "task_queue": queue}
    for database in QUESTIONS["database"]
    for queue in QUESTIONS["task_queue"]
]


def _answer_sets(**fixed: Any) -> pytest.MarkDecorator:
    """Parametrize `answers` over every stack, with `fixed` tooling answers."""
    sets = [matrix_answers(QUESTIONS, {**stack, **fixed}) for stack in STACKS]
    return pytest.mark.parametrize(
        "answers", [pytest.param(a, id=closed_answers_id(a, QUESTIONS)) for a in sets]
    )


#: The default answer set alone, under the matrix's id for it.
default_answers = pytest.mark.parametrize(
    "answers", [pytest.param(DEFAULTS, id=closed_answers_id(DEFAULTS, QUESTIONS))]
)


# --------------------------------------------------------------------------
# pre-commit
# --------------------------------------------------------------------------


@pytest.mark.full
@default_answers
@check("pre-commit run --all-files")
def test_pre_commit_passes_on_a_fresh_project(
    render: Render,
    project_env: Any,
    suite_cache: Path,
    tmp_path: Path,
    answers: Answers,
) -> None:
    """The hooks run the project's own tools (`language: system`), so the venv
    on PATH is all they need: no hook environments, no network."""
    project = tmp_path / "project"
    # A copy: failing hooks fix files in place, and the render is shared.
    shutil.copytree(render(answers), project, symlinks=True)
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    languages = {
        (repo["repo"], hook["language"]) for repo in config["repos"] for hook in repo["hooks"]
    }
    assert languages <= {("local", "system"), ("local", "pygrep")}, languages

    venv = project_env(project)
    env = tool_env(venv, {"PRE_COMMIT_HOME": str(suite_cache / "pre-commit")})
    run(
        [
            venv_bin(venv, "pre-commit"),
            "run",
            "--all-files",
            "--show-diff-on-failure",
            "--color=never",
        ],
        cwd=project,
        env=env,
    )
    assert_git_clean(project, "pre-commit")


# --------------------------------------------------------------------------
# GitHub Actions
# --------------------------------------------------------------------------


def _job_env(job: dict[str, Any], workflow: dict[str, Any]) -> dict[str, str]:
    """The environment every step of a job sees (workflow env, then job env)."""
    return {**(workflow.get("env") or {}), **(job.get("env") or {})}


@pytest.mark.render
@_answer_sets(ci="github")
@check("workflow: GitHub schema, services")
def test_workflow_is_valid_and_starts_the_services_it_needs(
    render: Render, answers: Answers
) -> None:
    """Checked against the GitHub workflow schema that check-jsonschema ships
    (offline), then for what the schema cannot know: the services and the URLs
    the project's suite reads must agree."""
    project = render(answers)
    path = project / ".github" / "workflows" / "ci.yml"
    run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            path,
        ],
        cwd=project,
    )
    workflow = yaml.safe_load(path.read_text())
    job = workflow["jobs"]["check"]  # test_staying_current.py checks the scheduled ones
    services: dict[str, Any] = job.get("services") or {}
    env = _job_env(job, workflow)
    images = {name: str(svc["image"]).split(":")[0] for name, svc in services.items()}
    for name, svc in services.items():
        assert "--health-cmd" in str(svc.get("options", "")), f"{name}: steps may race the server"

    if answers["database"] == "postgresql":
        assert "postgres" in images.values(), services
        (pg,) = (svc for name, svc in services.items() if images[name] == "postgres")
        url = urlsplit(env["TEST_DATABASE_URL"])
        assert url.scheme == "postgresql+psycopg", url
        assert (url.username, url.password, url.path.lstrip("/")) == (
            pg["env"]["POSTGRES_USER"],
            pg["env"]["POSTGRES_PASSWORD"],
            pg["env"]["POSTGRES_DB"],
        )
        assert f"{url.port}:5432" in [str(p) for p in pg["ports"]], pg["ports"]
    else:
        assert "postgres" not in images.values(), services
        assert "TEST_DATABASE_URL" not in env, env

    if answers["task_queue"] == "celery":
        assert "redis" in images.values(), services
        (redis,) = (svc for name, svc in services.items() if images[name] == "redis")
        for key in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
            url = urlsplit(env[key])
            assert url.scheme == "redis", (key, env[key])
            assert f"{url.port}:6379" in [str(p) for p in redis["ports"]], redis["ports"]
    else:
        assert "redis" not in images.values(), services
        assert not {"CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"} & set(env), env

    if answers["database"] != "postgresql" and answers["task_queue"] != "celery":
        assert not services, services

    # The job runs the owner's own checks, on a Python the project supports.
    scripts = "\n".join(str(step.get("run", "")) for step in job["steps"])
    for command in (".[dev]", "ruff check", "ruff format --check", "mypy", "pytest"):
        assert command in scripts, f"the workflow never runs {command!r}:\n{scripts}"
    pythons = [
        str(step["with"]["python-version"])
        for step in job["steps"]
        if str(step.get("uses", "")).startswith("actions/setup-python")
    ]
    requires = read_pyproject(project)["project"]["requires-python"]
    assert pythons, "no actions/setup-python step"
    assert all(SpecifierSet(requires).contains(v) for v in pythons), (pythons, requires)


# --------------------------------------------------------------------------
# Docker (static checks: there is no Docker engine on this machine or in CI)
# --------------------------------------------------------------------------


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """A compose service's environment, from either the mapping or the list form."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _dotenv(project: Path) -> dict[str, str]:
    """NAME=value lines of the project's .env (what compose interpolates from)."""
    lines = (project / ".env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's `${NAME}` / `${NAME:?message}` substitution, from `env`."""
    return re.sub(r"\$\{(\w+)(?::\?[^}]*)?\}", lambda m: env[m[1]], value)


def _container_ports(service: dict[str, Any]) -> set[int]:
    """Container ports a service publishes ("8000:8000", "8000" or {target: 8000})."""
    ports = set()
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            ports.add(int(port["target"]))
        else:
            ports.add(int(str(port).rsplit(":", 1)[-1].split("/")[0]))
    return ports


def _named_volumes(service: dict[str, Any]) -> dict[str, str]:
    """Named volumes a service mounts: {volume: container path} (bind mounts left out)."""
    mounts = {}
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            if volume.get("type", "volume") == "volume":
                mounts[str(volume["source"])] = str(volume["target"])
            continue
        source, _, target = str(volume).partition(":")
        if target and not source.startswith((".", "/", "~")):
            mounts[source] = target.split(":")[0]
    return mounts


def _depends_healthy(service: dict[str, Any], other: str) -> bool:
    """Whether `service` waits for `other` to pass its healthcheck."""
    depends = service.get("depends_on") or {}
    return (
        isinstance(depends, dict) and depends.get(other, {}).get("condition") == "service_healthy"
    )


@pytest.mark.render
@_answer_sets(docker=True)
@check("compose.yaml services")
def test_compose_file_wires_the_whole_stack(render: Render, answers: Answers) -> None:
    """Parsed, not run (no Docker engine here): the app publishes port 8000 and
    reads its secret and database from the environment; each server it needs
    is a service it waits for; every named volume is declared and used."""
    project = render(answers)
    package = package_name(project)
    compose = yaml.safe_load((project / "compose.yaml").read_text())
    services: dict[str, Any] = compose["services"]

    app = services["app"]
    assert "build" in app, app
    assert 8000 in _container_ports(app), app.get("ports")
    app_env = _environment(app)
    assert {"SECRET_KEY", "DATABASE_URL"} <= set(app_env), app_env
    # No secret in the file: compose takes it from .env (which git ignores).
    assert app_env["SECRET_KEY"].startswith("${SECRET_KEY"), app_env["SECRET_KEY"]
    assert "SECRET_KEY=" in (project / ".env").read_text()
    database_url = app_env["DATABASE_URL"]

    if answers["database"] == "postgresql":
        db = services["db"]
        assert str(db["image"]).startswith("postgres"), db
        assert db.get("healthcheck", {}).get("test"), "db has no healthcheck"
        assert _depends_healthy(app, "db"), app.get("depends_on")
        dotenv = _dotenv(project)
        url = urlsplit(_interpolate(database_url, dotenv))
        db_env = {name: _interpolate(value, dotenv) for name, value in _environment(db).items()}
        assert (url.scheme, url.hostname, url.port) == ("postgresql+psycopg", "db", 5432), url
        assert (url.username, url.password, url.path.lstrip("/")) == (
            db_env["POSTGRES_USER"],
            db_env["POSTGRES_PASSWORD"],
            db_env["POSTGRES_DB"],
        )
        # No guessable password in the file: it comes from .env, required.
        assert _environment(db)["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
        assert len(dotenv["POSTGRES_PASSWORD"]) >= 32, "a guessable database password"
        assert "/var/lib/postgresql/data" in _named_volumes(db).values(), db.get("volumes")
    else:
        assert "db" not in services, services
        assert database_url.startswith("sqlite:////"), database_url
        # The SQLite file must live on a volume, or it dies with the container.
        folder = database_url.removeprefix("sqlite:///").rsplit("/", 1)[0]
        assert folder in _named_volumes(app).values(), (database_url, app.get("volumes"))

    if answers["task_queue"] == "celery":
        redis, worker = services["redis"], services["worker"]
        assert redis.get("healthcheck", {}).get("test"), "redis has no healthcheck"
        command = worker["command"]
        command = command if isinstance(command, list) else shlex.split(command)
        assert "celery" in command and f"{package}.worker" in command, command
        worker_env = _environment(worker)
        # The worker must see the app's database (and, for SQLite, its volume).
        assert worker_env.get("DATABASE_URL") == database_url, worker_env
        if answers["database"] == "sqlite":
            assert _named_volumes(worker) == _named_volumes(app), worker.get("volumes")
        for env in (app_env, worker_env):
            for key in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
                assert urlsplit(env[key]).hostname == "redis", (key, env)
        for service in (app, worker):
            assert _depends_healthy(service, "redis"), service.get("depends_on")
    else:
        assert not {"redis", "worker"} & set(services), services

    for name, service in services.items():
        for port in service.get("ports") or []:
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"

    used = {name for service in services.values() for name in _named_volumes(service)}
    declared = set(compose.get("volumes") or {})
    assert used == declared, f"volumes used {sorted(used)} but declared {sorted(declared)}"


def _dockerfile(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, rest = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
        pending = ""
    return instructions


@pytest.mark.render
@_answer_sets(docker=True)
@check("Dockerfile")
def test_dockerfile_serves_with_gunicorn_as_non_root(render: Render, answers: Answers) -> None:
    """Static checks (no Docker engine here): a slim base, a non-root user,
    gunicorn serving the factory with gunicorn.conf.py (port 8000, exposed), and
    a healthcheck."""
    project = render(answers)
    package = package_name(project)
    instructions = _dockerfile(project / "Dockerfile")
    by_name: dict[str, list[str]] = {}
    for keyword, args in instructions:
        by_name.setdefault(keyword, []).append(args)

    assert all("slim" in image for image in by_name["FROM"]), by_name["FROM"]
    users = by_name.get("USER", [])
    assert users and users[-1].split(":")[0] not in {"root", "0"}, users
    assert "8000" in " ".join(by_name.get("EXPOSE", [])).split(), by_name.get("EXPOSE")
    (healthcheck,) = by_name["HEALTHCHECK"]
    assert "/health" in healthcheck and "8000" in healthcheck, healthcheck
    cmd = by_name["CMD"][-1]
    assert "gunicorn" in cmd and f"{package}:create_app()" in cmd, cmd
    # Port, workers and threads come from gunicorn.conf.py, read from the WORKDIR.
    copied = [a for args in by_name.get("COPY", []) for a in args.split()]
    assert "gunicorn.conf.py" in copied, by_name.get("COPY")
    assert "0.0.0.0:{_env_int('PORT', 8000)}" in (project / "gunicorn.conf.py").read_text()

    ignored = {
        line.strip().rstrip("/")
        for line in (project / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for args in by_name.get("COPY", []):
        *sources, _ = [a for a in args.split() if not a.startswith("--")]
        for source in sources:
            assert (project / source).exists(), f"COPY {source}: not in the project"
            assert source.rstrip("/") not in ignored, f"COPY {source}: but .dockerignore drops it"


@pytest.mark.render
@_answer_sets(docker=False, ci="none")
@check("no Docker or CI files when declined")
def test_declined_tooling_leaves_no_files(render: Render, answers: Answers) -> None:
    project = render(answers)
    for name in ("Dockerfile", "compose.yaml", ".github"):
        assert not (project / name).exists(), f"{name} rendered although declined"


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
