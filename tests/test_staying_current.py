"""A generated project hears when the world moved on, and pins what it runs.

Its workflow's weekly jobs test the newest dependency releases and fail while the
template has a release the project lacks; Dependabot proposes updates for every
ecosystem the project uses; the Actions and the Docker base image are pinned
by commit and digest. The template-update step is run for real here: its shell,
taken from the rendered workflow, against real tagged template repositories.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.checks import check
from harness.commands import run
from harness.git import git_commit_all
from harness.matrix import (
    closed_answers_id,
    matrix_answers,
    template_questions,
)
from harness.rendering import Answers, Render, copy_template
from harness.schemas import check_schema

pytestmark = pytest.mark.render

QUESTIONS = template_questions()
SCHEDULED = {"schedule", "workflow_dispatch"}
#: `owner/name@<40-hex commit> # vX.Y.Z`, as Dependabot keeps them.
PINNED_ACTION = re.compile(r"uses: ([\w.-]+/[\w./-]+)@([0-9a-f]{40}) # v\d+(\.\d+)*$")


#: The default answers with the GitHub workflow (the template-update step's project).
GITHUB_DEFAULTS = matrix_answers(QUESTIONS, {"ci": "github"})


def _github_answer_sets() -> pytest.MarkDecorator:
    """Every database and every task queue, docker on for some and off for the
    others (docker changes only the Dependabot and Docker files)."""
    stacks = [(d, t) for d in QUESTIONS["database"] for t in QUESTIONS["task_queue"]]
    sets = [
        matrix_answers(
            QUESTIONS, {"database": d, "task_queue": t, "docker": i % 3 == 0, "ci": "github"}
        )
        for i, (d, t) in enumerate(stacks)
    ]
    assert {a["docker"] for a in sets} == {True, False}, sets
    return pytest.mark.parametrize(
        "answers", [pytest.param(a, id=closed_answers_id(a, QUESTIONS)) for a in sets]
    )


def _workflow(project: Path) -> dict[str, Any]:
    path = project / ".github" / "workflows" / "ci.yml"
    check_schema(path, "vendor.github-workflows")
    workflow: dict[str, Any] = yaml.safe_load(path.read_text())
    return workflow


def _runs_on(job: dict[str, Any]) -> set[str]:
    """The events a job's `if:` lets through (the workflow's own `on:` aside)."""
    condition = str(job.get("if", ""))
    named = set(re.findall(r"github\.event_name == '(\w+)'", condition))
    excluded = set(re.findall(r"github\.event_name != '(\w+)'", condition))
    events = {"push", "pull_request", *SCHEDULED}
    return (named or events) - excluded


@_github_answer_sets()
@check("workflow: weekly newest-dependencies and template-update jobs")
def test_weekly_jobs_test_newest_releases_and_template_updates(
    render: Render, answers: Answers
) -> None:
    project = render(answers)
    workflow = _workflow(project)
    # PyYAML reads the key `on` as True.
    triggers = workflow.get("on", workflow.get(True))
    assert re.fullmatch(r"\S+ \S+ \S+ \S+ \d", triggers["schedule"][0]["cron"]), triggers
    jobs = workflow["jobs"]
    check_job, newest, update = jobs["check"], jobs["newest-dependencies"], jobs["template-update"]

    assert "schedule" not in _runs_on(check_job)
    assert _runs_on(newest) == SCHEDULED
    assert _runs_on(update) == SCHEDULED
    # The newest job tests against the same servers as the everyday one.
    assert newest.get("services") == check_job.get("services")
    assert newest.get("env") == check_job.get("env")
    scripts = "\n".join(str(step.get("run", "")) for step in newest["steps"])
    assert "--upgrade" in scripts and "pytest" in scripts, scripts
    (setup,) = (s for s in newest["steps"] if "setup-python" in str(s.get("uses")))
    assert setup["with"]["python-version"] == "3.x", setup
    assert "copier check-update" in "\n".join(str(s.get("run", "")) for s in update["steps"])


@_github_answer_sets()
@check("Dependabot, Actions by commit, base image by digest")
def test_dependabot_covers_what_the_project_pins(render: Render, answers: Answers) -> None:
    project = render(answers)
    config_path = project / ".github" / "dependabot.yml"
    check_schema(config_path, "vendor.dependabot")
    config = yaml.safe_load(config_path.read_text())
    ecosystems = {update["package-ecosystem"] for update in config["updates"]}
    assert ecosystems == {"pip", "github-actions"} | ({"docker"} if answers["docker"] else set())
    # Floors are tested promises: no strategy that would raise them on every bump.
    assert all("versioning-strategy" not in update for update in config["updates"]), config

    workflow_text = (project / ".github" / "workflows" / "ci.yml").read_text()
    uses = [
        line.strip().removeprefix("- ") for line in workflow_text.splitlines() if "uses:" in line
    ]
    assert uses, "no Actions in the workflow"
    unpinned = [line for line in uses if not PINNED_ACTION.fullmatch(line)]
    assert not unpinned, f"Actions not pinned to a commit with its version: {unpinned}"

    if answers["docker"]:
        froms = [
            line
            for line in (project / "Dockerfile").read_text().splitlines()
            if line.startswith("FROM ")
        ]
        assert froms, "no FROM line"
        for line in froms:
            assert re.fullmatch(r"FROM \S+:\S+@sha256:[0-9a-f]{64}( AS \w+)?", line), line


# --------------------------------------------------------------------------
# The template-update step, run
# --------------------------------------------------------------------------


def _update_step(project: Path) -> str:
    """The shell of the step that compares the project with the template."""
    steps = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text())["jobs"][
        "template-update"
    ]["steps"]
    (script,) = (s["run"] for s in steps if "copier check-update" in str(s.get("run", "")))
    return str(script)


def _run_step(project: Path, script: str) -> subprocess.CompletedProcess[str]:
    """Run the step as GitHub would (bash, in the checkout), with this suite's copier."""
    bin_dir = str(Path(sys.executable).parent)
    return run(
        ["bash", "-eo", "pipefail", "-c", script],
        cwd=project,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "GIT_TERMINAL_PROMPT": "0"},
        must_succeed=False,
        timeout=120,
    )


def _set_src_path(project: Path, src: str) -> None:
    answers_file = project / ".copier-answers.yml"
    text = re.sub(r"(?m)^_src_path: .*$", f"_src_path: {src}", answers_file.read_text())
    answers_file.write_text(text)


@check("template-update step: current, behind, unreachable", GITHUB_DEFAULTS)
def test_template_update_step_fails_only_when_a_newer_release_exists(
    template_clone: Path, tmp_path: Path
) -> None:
    template = tmp_path / "template"
    run(["git", "clone", "--quiet", str(template_clone), str(template)], cwd=tmp_path)
    run(["git", "tag", "v90.0.0"], cwd=template)
    project = tmp_path / "project"
    copy_template(template, project, GITHUB_DEFAULTS, vcs_ref="v90.0.0")
    git_commit_all(project, "Render the template at v90.0.0")
    script = _update_step(project)

    current = _run_step(project, script)
    assert current.returncode == 0, current.stdout + current.stderr
    assert "Up to date with template 90.0.0" in current.stdout, current.stdout

    run(["git", "commit", "--quiet", "--allow-empty", "-m", "Next release"], cwd=template)
    run(["git", "tag", "v90.1.0"], cwd=template)
    behind = _run_step(project, script)
    assert behind.returncode == 1, behind.stdout + behind.stderr
    assert "::error title=Template update available::" in behind.stdout, behind.stdout
    assert "90.0.0" in behind.stdout and "90.1.0" in behind.stdout, behind.stdout

    _set_src_path(project, str(tmp_path / "moved-away"))
    local = _run_step(project, script)
    assert local.returncode == 0, local.stdout + local.stderr
    assert "::warning title=Template not reachable::" in local.stdout, local.stdout

    _set_src_path(project, "https://127.0.0.1:9/nobody/template.git")
    unreachable = _run_step(project, script)
    assert unreachable.returncode == 1, unreachable.stdout + unreachable.stderr
    assert "::error title=Template not reachable::" in unreachable.stdout, unreachable.stdout
