"""Fixtures for the template's own suite.

Everything here renders from a clean clone of the committed template, never
from the working tree, and isolates copier and git from the user's settings.

Fixtures (see each docstring):
  template_clone -> Path                        the committed template, cloned
  render(answers, dst=None) -> Path             a rendered, git-committed project
  project_env(project, resolution, python) -> Path  a venv with project[dev] installed
  postgres_url -> str                           a real PostgreSQL server
  redis_url -> str                              a real Redis server
  suite_cache -> Path                           caches kept between runs
Helpers: run, tool_env, servers.fresh_database.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from harness import servers
from harness.environment import cache_root, isolation_variables
from harness.git import REPO_ROOT, clone_template, git_commit_all
from harness.processes import ServerUnavailable
from harness.redis_server import redis_server
from harness.rendering import Answers, Render, answers_slug, copy_template
from harness.venvs import HIGHEST, VenvPool

#: Fixture modules of the harness, shared by several test modules.
pytest_plugins = ["harness.serving_app", "harness.synthetic_releases"]


def _server_missing(reason: str) -> NoReturn:
    """Skip for a developer without the server; fail on CI, where it must exist."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)")
    pytest.skip(reason)


# --------------------------------------------------------------------------
# Scheduling under pytest-xdist
# --------------------------------------------------------------------------

#: Modules parametrized by answer set. Their tests that share a parameter id
#: run on one worker, which then renders and installs that project only once.
#: (xdist's own `xdist_group` mark does nothing under pytest 9: xdist 3.8
#: renames items through an attribute pytest 9 no longer reads.)
ANSWER_SET_MODULES = frozenset(
    {
        "test_generated_projects.py",
        "test_tooling.py",
        "test_docker_files.py",
        "test_packaging.py",
        "test_awkward_answers.py",
    }
)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With `--dist load` (our default), group answer-set tests per worker."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class AnswerSetScheduling(LoadScopeScheduling):
        """Load balancing, except that one answer set's tests stay together."""

        def _split_scope(self, nodeid: str) -> str:
            path, _, rest = nodeid.partition("::")
            if Path(path).name in ANSWER_SET_MODULES and rest.endswith("]") and "[" in rest:
                return "answer-set:" + rest[rest.index("[") + 1 : -1]
            return nodeid

    return AnswerSetScheduling(config, log)


# --------------------------------------------------------------------------
# Isolation
# --------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def isolated_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the user's copier settings and git config out of every test."""
    variables = isolation_variables(tmp_path_factory.mktemp("isolation"))
    with pytest.MonkeyPatch.context() as mp:
        for key, value in variables.items():
            mp.setenv(key, value)
        yield


# --------------------------------------------------------------------------
# Template and rendering
# --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def template_clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh clone of the committed template (HEAD of the current branch).

    Rendering from a clean clone means copier never makes a temporary commit,
    and `_commit` in the answers file names a real revision.
    """
    clone = clone_template(tmp_path_factory.mktemp("template") / "template")
    if not (clone / "copier.yml").exists():
        pytest.fail(f"no copier.yml in the committed template at {REPO_ROOT}: commit it first")
    return clone


@pytest.fixture(scope="session")
def render(template_clone: Path, tmp_path_factory: pytest.TempPathFactory) -> Render:
    """`render(answers, dst=None) -> Path`: a rendered project, committed to git.

    With no `dst`, each answer set renders once per session (per xdist worker)
    and later calls return the same directory: tests must not modify it (copy
    it first, e.g. with `shutil.copytree`, or pass a `dst`).
    """
    cache: dict[str, Path] = {}

    def _render(answers: Answers, dst: Path | None = None) -> Path:
        key = json.dumps(answers, sort_keys=True, default=str)
        if dst is None and key in cache:
            return cache[key]
        target = (
            dst if dst is not None else tmp_path_factory.mktemp("project") / answers_slug(answers)
        )
        target = Path(target).resolve()
        copy_template(template_clone, target, answers)
        git_commit_all(target, "Render the template")
        if dst is None:
            cache[key] = target
        return target

    return _render


# --------------------------------------------------------------------------
# Generated projects' virtualenvs
# --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def suite_cache() -> Path:
    """What persists between runs (venvs, uv and pre-commit caches): `.cache/`,
    or $TEMPLATE_TESTS_CACHE."""
    return cache_root()


@pytest.fixture(scope="session")
def venv_pool(suite_cache: Path) -> VenvPool:
    """The cache of generated-project venvs under `.cache/venvs`."""
    pool = VenvPool.in_cache(suite_cache)
    pool.prune()
    return pool


@pytest.fixture
def project_env(venv_pool: VenvPool) -> Iterator[Callable[..., Path]]:
    """`project_env(project, resolution=HIGHEST, python=None) -> venv`: a venv
    with `project[dev]` installed, resolved by uv's `resolution` (see
    `LOWEST_DIRECT`) on the `python` interpreter (default: the suite's).

    The venv is cached by the project's declared dependencies, the resolution
    and the Python, and reserved for this test until it ends (other workers use
    another copy meanwhile).
    """
    with contextlib.ExitStack() as stack:

        def _acquire(project: Path, resolution: str = HIGHEST, python: str | None = None) -> Path:
            return stack.enter_context(venv_pool.acquire(project, resolution, python))

        yield _acquire


# --------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server for this worker; use `servers.fresh_database`."""
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(servers.postgres_server())
        except ServerUnavailable as exc:
            _server_missing(str(exc))
        yield url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real Redis server for this worker."""
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(redis_server())
        except ServerUnavailable as exc:
            _server_missing(str(exc))
        yield url


# --------------------------------------------------------------------------
# Coverage summary
# --------------------------------------------------------------------------

_CHECK_PROPERTY = "template-check"


def _answers_label(answers: object) -> str:
    """How the summary names an answer set: project name, then other answers."""
    if not isinstance(answers, dict):
        return "(no answer set)"

    def short(value: object) -> str:
        """Long answers (the suite tries 200-character ones) cut to one line's worth."""
        text = str(value)
        return text if len(text) <= 40 else text[:39] + "…"

    label = short(answers.get("project_name", "?"))
    extras = {k: v for k, v in answers.items() if k != "project_name"}
    if extras:
        label += " (" + ", ".join(f"{k}={short(v)}" for k, v in extras.items()) + ")"
    return label


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tag tests named with `check` so the summary can list them."""
    for item in items:
        name = getattr(getattr(item, "function", None), "template_check", None)
        if not name:
            continue
        params = getattr(getattr(item, "callspec", None), "params", {})
        answers = params.get("answers", getattr(item.function, "template_answers", None))  # type: ignore[attr-defined]
        item.user_properties.append((_CHECK_PROPERTY, json.dumps([_answers_label(answers), name])))


_outcomes: dict[str, dict[str, str]] = defaultdict(dict)
_RANK = {"passed": 0, "skipped": 1, "failed": 2}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Remember each tagged test's worst outcome (runs in the xdist controller)."""
    for key, value in report.user_properties:
        if key != _CHECK_PROPERTY:
            continue
        label, name = json.loads(str(value))
        if report.when != "call" and report.outcome == "passed":
            continue
        previous = _outcomes[label].get(name)
        if previous is None or _RANK[report.outcome] > _RANK[previous]:
            _outcomes[label][name] = report.outcome


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print which answer sets were rendered and which tools ran on them."""
    if not _outcomes:
        return
    tr = terminalreporter
    tr.section("template coverage")
    symbols = {"passed": "ok", "failed": "FAILED", "skipped": "skipped"}
    for label in sorted(_outcomes):
        checks = ", ".join(f"{name}: {symbols[o]}" for name, o in _outcomes[label].items())
        tr.write_line(f"{label}: {checks}")
    counts: defaultdict[str, int] = defaultdict(int)
    for outcomes in _outcomes.values():
        for outcome in outcomes.values():
            counts[outcome] += 1
    tally = ", ".join(f"{n} {symbols[o]}" for o, n in sorted(counts.items()))
    tr.write_line(f"{len(_outcomes)} answer sets, {sum(counts.values())} checks: {tally}")
