"""Both ends of the generated project's version ranges pass its own tests.

The floors in the generated pyproject.toml are a promise to the owner: each
database x task-queue variant installs with uv's `lowest-direct` resolution
(every direct dependency, runtime and dev, at the lowest version its range
allows) on the lowest Python the project supports and on the newest Python
found here, and at the newest versions on that newest Python; each time its own
suite runs on SQLite and then on PostgreSQL, and that gunicorn loads the app
(the suite never imports gunicorn). The newest versions on the suite's
own Python are the everyday matrix (test_generated_projects.py), so they are
not repeated here.

The newest Python is $TEMPLATE_TESTS_NEWEST_PYTHON, else the newest
`python3.N` on PATH or under pyenv; without one newer than the lowest those
cases skip (and fail on CI, where the workflow installs one).
"""

from __future__ import annotations

import functools
import json
import os
import re
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from harness import servers
from harness.checks import check
from harness.commands import run
from harness.matrix import (
    matrix_answers,
    template_questions,
)
from harness.rendering import Render, answers_slug, package_name
from harness.venvs import (
    HIGHEST,
    LOWEST_DIRECT,
    read_pyproject,
    run_project_tests,
    tool_env,
    venv_bin,
)

pytestmark = pytest.mark.full

QUESTIONS = template_questions()
#: Only these answers change what gets installed (docker and ci do not).
VARIANTS = [
    {"database": database, "task_queue": task_queue}
    for database in QUESTIONS["database"]
    for task_queue in QUESTIONS["task_queue"]
]
#: (resolution, which Python): the ends the everyday matrix does not reach.
ENDS = [(LOWEST_DIRECT, "lowest"), (LOWEST_DIRECT, "newest"), (HIGHEST, "newest")]


def _python_version(python: str) -> Version | None:
    """The interpreter's X.Y, or None when it does not run (e.g. a dead pyenv shim)."""
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return Version(out.strip())


def _lowest_python(floor: Version) -> str | None:
    """An interpreter of exactly the project's lowest supported X.Y."""
    for candidate in (os.environ.get("TEMPLATE_TESTS_LOWEST_PYTHON"), f"python{floor}"):
        path = shutil.which(candidate) if candidate else None
        if path and _python_version(path) == floor:
            return path
    return None


@functools.cache
def _newest_python(floor: Version) -> str | None:
    """The newest interpreter here that is newer than the project's floor:
    $TEMPLATE_TESTS_NEWEST_PYTHON, else the newest `python3.N` on PATH or
    installed by pyenv (whose shims on PATH run only the selected versions)."""
    override = os.environ.get("TEMPLATE_TESTS_NEWEST_PYTHON")
    if override:
        candidates = [shutil.which(override)]
    else:
        pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
        candidates = [shutil.which(f"python3.{minor}") for minor in range(12, 30)]
        candidates += [str(path) for path in sorted(pyenv.glob("3.*/bin/python3"))]
    found = {path: _python_version(path) for path in candidates if path}
    newer = {path: version for path, version in found.items() if version and version > floor}
    return max(newer, key=lambda path: newer[path]) if newer else None


def _python_or_skip(which: str, requires_python: str) -> str:
    """The interpreter for `which` end, or skip (fail on CI) when there is none."""
    match = re.fullmatch(r">=\s*(\d+\.\d+)", requires_python)
    assert match, f"requires-python should be a plain floor, got {requires_python!r}"
    floor = Version(match.group(1))
    python = _lowest_python(floor) if which == "lowest" else _newest_python(floor)
    if python is None:
        reason = (
            f"no Python {floor} found (python{floor} on PATH or $TEMPLATE_TESTS_LOWEST_PYTHON)"
            if which == "lowest"
            else f"no Python newer than {floor} on PATH (or $TEMPLATE_TESTS_NEWEST_PYTHON)"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)")
        pytest.skip(reason)
    return python


def _installed(venv: Path, names: list[str]) -> dict[str, str]:
    """The version of each distribution installed in the venv."""
    script = (
        "import importlib.metadata as m, json, sys; "
        "print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
    )
    out = run([venv_bin(venv, "python"), "-c", script, *names], cwd=venv).stdout
    versions: dict[str, str] = json.loads(out)
    return versions


def _floor(requirement: Requirement) -> Version | None:
    """The `>=` bound of a requirement, if it has one."""
    floors = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
    return max(floors) if floors else None


def _assert_resolved(venv: Path, project: Path, resolution: str) -> dict[str, str]:
    """Every runtime dependency is installed within its range and, for
    `lowest-direct`, in the release its floor names (a floor no installable
    version matches is a stale promise); returns name -> version."""
    requirements = [Requirement(d) for d in read_pyproject(project)["project"]["dependencies"]]
    versions = _installed(venv, [r.name for r in requirements])
    for requirement in requirements:
        version = Version(versions[requirement.name])
        assert requirement.specifier.contains(version), (requirement, version)
        floor = _floor(requirement)
        if resolution == LOWEST_DIRECT and floor is not None:
            assert version.release[: len(floor.release)] == floor.release, (
                f"{requirement}: lowest-direct installed {version}, not the floor's release"
            )
    return versions


def _assert_gunicorn_loads_the_app(venv: Path, project: Path, tmp_path: Path) -> None:
    """The project's suite never imports gunicorn: this gunicorn builds the app
    from the README's app spec and accepts the project's gunicorn settings."""
    package = package_name(project)
    run(
        [venv_bin(venv, "gunicorn"), "--check-config", f"{package}:create_app()"],
        cwd=project,
        env=tool_env(
            venv,
            {
                "SECRET_KEY": secrets.token_hex(32),
                "DATABASE_URL": f"sqlite:///{tmp_path / 'check.sqlite3'}",
            },
        ),
    )


def _params() -> list[Any]:
    """One param per variant and end; the answers are the matrix's, so the render is shared."""
    return [
        pytest.param(
            matrix_answers(QUESTIONS, variant),
            resolution,
            which,
            id=f"{variant['database']}-{variant['task_queue']}-{resolution}-{which}-python",
        )
        for variant in VARIANTS
        for resolution, which in ENDS
    ]


@pytest.mark.parametrize(("answers", "resolution", "which_python"), _params())
@check("version-range ends pass the project's suite")
def test_suite_passes_at_both_ends_of_the_version_ranges(
    render: Render,
    project_env: Any,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    answers: dict[str, Any],
    resolution: str,
    which_python: str,
) -> None:
    project = render(answers)
    python = _python_or_skip(which_python, read_pyproject(project)["project"]["requires-python"])
    venv = project_env(project, resolution, python)
    versions = _assert_resolved(venv, project, resolution)
    label = f"{resolution} on Python {_python_version(python)}: {versions}"

    extra: dict[str, str | None] = {}
    if answers["task_queue"] == "celery":
        redis_url: str = request.getfixturevalue("redis_url")
        extra |= {"CELERY_BROKER_URL": redis_url, "CELERY_RESULT_BACKEND": redis_url}
    try:
        run_project_tests(venv, project, extra=extra)
        postgres_url: str = request.getfixturevalue("postgres_url")
        database = servers.fresh_database(postgres_url, answers_slug(answers))
        run_project_tests(venv, project, extra={**extra, "TEST_DATABASE_URL": database})
        _assert_gunicorn_loads_the_app(venv, project, tmp_path)
    except AssertionError as failure:
        raise AssertionError(f"{label}\n{failure}") from None
