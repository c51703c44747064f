"""Render every combination of the closed answers and hold each project to its own bar.

A project is only as good as what its owner runs first: its linter, formatter,
type checker and test suite must pass straight out of the template, against
real PostgreSQL and Redis servers where the answers ask for them.

The matrix is every combination of the choice and yes/no questions in
copier.yml (a new choice widens it by itself; past `harness.matrix.MAX_FULL_MATRIX`
combinations it falls back to a pairwise cover). All combinations share one
project name, so combinations with the same dependencies (those that differ only
in docker/ci, whose Python code is identical) reuse one cached venv and its
warm mypy cache (`harness.venvs.tool_env`): mypy's cache is checked by content hash,
so reusing it across projects is safe, and it makes the re-check nearly free.
Every check still runs on every combination.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness import servers
from harness.checks import check
from harness.commands import run
from harness.git import assert_git_clean
from harness.matrix import (
    answer_matrix,
    closed_answers_id,
    matrix_answers,
    pairwise_cover,
    template_questions,
)
from harness.rendering import Render, answers_slug, recorded_answers
from harness.venvs import run_project_tests, tool_env, venv_bin

QUESTIONS = template_questions()
MATRIX = [matrix_answers(QUESTIONS, combo) for combo in answer_matrix(QUESTIONS)]


def _params() -> list[Any]:
    """One param per answer set, its id from the closed answers; conftest's
    scheduler keeps the tests of one id on one worker."""
    return [pytest.param(answers, id=closed_answers_id(answers, QUESTIONS)) for answers in MATRIX]


answer_sets = pytest.mark.parametrize("answers", _params())

GITHUB_EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.DOTALL)
#: Jinja statements and comments: never legitimate in rendered code.
JINJA_TAG = re.compile(r"\{%|%\}|\{#-?\s.*#\}")


def _leftover_pattern(template_clone: Path) -> re.Pattern[str]:
    """Jinja tags, plus `{{ ... }}` expressions naming a copier variable.

    `{{`/`}}` alone are not enough: nested dict literals end in `}}` and
    f-strings escape braces as `{{`.
    """
    config = yaml.safe_load((template_clone / "copier.yml").read_text())
    names = sorted(k for k in config if not k.startswith("_"))
    variables = "|".join(
        map(
            re.escape, [*names, "_copier_conf", "_copier_answers", "_copier_python", "_folder_name"]
        )
    )
    return re.compile(rf"{JINJA_TAG.pattern}|\{{\{{[^{{}}\n]*\b({variables})\b[^{{}}\n]*\}}\}}")


def _text_files(project: Path) -> list[Path]:
    """Every rendered file that decodes as text (the .git directory excluded)."""
    found = []
    for path in sorted(project.rglob("*")):
        rel = path.relative_to(project)
        if rel.parts[0] == ".git" or not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data:
            continue
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        found.append(path)
    return found


def _is_html_template(rel: Path) -> bool:
    """Flask's own Jinja templates legitimately contain `{{ }}` and `{% %}`."""
    return rel.suffix in {".html", ".jinja2", ".j2"} and "templates" in rel.parts[:-1]


def _pairs(rows: list[dict[str, Any]], names: list[str]) -> set[tuple[Any, ...]]:
    """Every (question, answer, question, answer) pair some row holds."""
    return {
        (a, row[a], b, row[b]) for row in rows for i, a in enumerate(names) for b in names[i + 1 :]
    }


def _all_pairs(questions: dict[str, list[Any]]) -> set[tuple[Any, ...]]:
    """Every pair of answers to two different questions."""
    names = list(questions)
    return {
        (a, va, b, vb)
        for i, a in enumerate(names)
        for b in names[i + 1 :]
        for va in questions[a]
        for vb in questions[b]
    }


@pytest.mark.render
def test_matrix_covers_every_pair_of_answers() -> None:
    """Whichever way the matrix was built, no answer pair goes unrendered."""
    assert {"database", "task_queue", "docker", "ci"} <= set(QUESTIONS), QUESTIONS
    assert _pairs(MATRIX, list(QUESTIONS)) == _all_pairs(QUESTIONS)
    ids = [closed_answers_id(answers, QUESTIONS) for answers in MATRIX]
    assert len(set(ids)) == len(ids), ids


@pytest.mark.render
def test_pairwise_fallback_covers_every_pair() -> None:
    """The fallback for a big matrix: small, and still covering every pair."""
    questions: dict[str, list[Any]] = {f"q{i}": ["a", "b", "c"] for i in range(6)}
    questions["flag"] = [True, False]
    rows = pairwise_cover(questions)
    assert _pairs(rows, list(questions)) == _all_pairs(questions)
    assert len(rows) <= 20, len(rows)  # the full product has 1458


@pytest.mark.render
@answer_sets
@check("no template markers left")
def test_no_template_markers_left(
    render: Render, template_clone: Path, answers: dict[str, Any]
) -> None:
    project = render(answers)
    leftover = _leftover_pattern(template_clone)
    leftovers: list[str] = []
    for path in _text_files(project):
        rel = path.relative_to(project)
        if _is_html_template(rel):
            continue
        text = path.read_text(encoding="utf-8")
        if rel.parts[0] == ".github":
            text = GITHUB_EXPRESSION.sub("", text)
        for lineno, line in enumerate(text.splitlines(), 1):
            if leftover.search(line):
                leftovers.append(f"{rel}:{lineno}: {line.strip()}")
    assert not leftovers, "unrendered template syntax:\n" + "\n".join(leftovers)

    odd_names = [
        str(p.relative_to(project))
        for p in project.rglob("*")
        if ".git" not in p.relative_to(project).parts[:1]
        and (p.name.endswith(".jinja") or "{{" in p.name or "{%" in p.name)
    ]
    assert not odd_names, f"file names still templated: {odd_names}"


@pytest.mark.render
@answer_sets
@check("answers file")
def test_answers_file_records_source_and_answers(
    render: Render, template_clone: Path, answers: dict[str, Any]
) -> None:
    project = render(answers)
    recorded = recorded_answers(project)
    assert recorded["_src_path"] == str(template_clone)
    assert recorded.get("_commit"), recorded
    for key, value in answers.items():
        assert recorded[key] == value, key
    assert (project / "src" / recorded["package_name"] / "__init__.py").is_file()


@pytest.mark.full
@answer_sets
@check("ruff check")
def test_ruff_check_passes(render: Render, project_env: Any, answers: dict[str, Any]) -> None:
    project = render(answers)
    venv = project_env(project)
    run([venv_bin(venv, "ruff"), "check", "--no-cache", "."], cwd=project, env=tool_env(venv))
    assert_git_clean(project, "ruff check")


@pytest.mark.full
@answer_sets
@check("ruff format --check")
def test_ruff_format_leaves_code_alone(
    render: Render, project_env: Any, answers: dict[str, Any]
) -> None:
    project = render(answers)
    venv = project_env(project)
    run(
        [venv_bin(venv, "ruff"), "format", "--check", "--no-cache", "."],
        cwd=project,
        env=tool_env(venv),
    )
    assert_git_clean(project, "ruff format --check")


@pytest.mark.full
@answer_sets
@check("mypy")
def test_mypy_passes(render: Render, project_env: Any, answers: dict[str, Any]) -> None:
    project = render(answers)
    venv = project_env(project)
    run([venv_bin(venv, "mypy")], cwd=project, env=tool_env(venv))
    assert_git_clean(project, "mypy")


@pytest.mark.full
@answer_sets
@check("pytest")
def test_project_suite_passes(
    render: Render, project_env: Any, answers: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    project = render(answers)
    venv = project_env(project)
    extra: dict[str, str | None] = {}
    parallel: list[str] = []
    if answers.get("database") == "postgresql":
        postgres_url: str = request.getfixturevalue("postgres_url")
        extra["TEST_DATABASE_URL"] = servers.fresh_database(postgres_url, answers_slug(answers))
        # Two xdist workers: each must create (and drop) a database of its own.
        parallel = ["-n", "2"]
    if answers.get("task_queue") == "celery":
        redis_url: str = request.getfixturevalue("redis_url")
        extra["CELERY_BROKER_URL"] = redis_url
        extra["CELERY_RESULT_BACKEND"] = redis_url
    run_project_tests(venv, project, *parallel, extra=extra)
    assert_git_clean(project, "the project's own suite")
