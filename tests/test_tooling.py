"""The generated project's pre-commit and GitHub workflow work as shipped.

Each answer set here is a matrix answer set (`harness.answer_sets`), so these
tests reuse the matrix's renders and venvs on the same worker.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from packaging.specifiers import SpecifierSet

from harness.answer_sets import default_answers, every_stack
from harness.checks import check
from harness.commands import run
from harness.git import assert_git_clean
from harness.rendering import Answers, Render
from harness.schemas import valid_workflow
from harness.venvs import read_pyproject, tool_env, venv_bin

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
@every_stack(ci="github")
@check("workflow: GitHub schema, services")
def test_workflow_is_valid_and_starts_the_services_it_needs(
    render: Render, answers: Answers
) -> None:
    """Checked against the GitHub workflow schema that check-jsonschema ships
    (offline), then for what the schema cannot know: the services and the URLs
    the project's suite reads must agree."""
    project = render(answers)
    path = project / ".github" / "workflows" / "ci.yml"
    workflow = valid_workflow(path)
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
