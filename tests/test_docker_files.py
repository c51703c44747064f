"""The generated Docker files wire the whole stack (static checks: there is no
Docker engine on this machine or in CI), and declined tooling leaves no files.

Answer sets are matrix answer sets (`harness.answer_sets`): matrix renders are reused.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from harness.answer_sets import every_stack
from harness.checks import check
from harness.rendering import Answers, Render, package_name

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
@every_stack(docker=True)
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
@every_stack(docker=True)
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
@every_stack(docker=False, ci="none")
@check("no Docker or CI files when declined")
def test_declined_tooling_leaves_no_files(render: Render, answers: Answers) -> None:
    project = render(answers)
    for name in ("Dockerfile", "compose.yaml", ".github"):
        assert not (project / name).exists(), f"{name} rendered although declined"
