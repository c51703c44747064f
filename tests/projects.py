"""Helpers for rendering projects and running their own tools.

`run` makes subprocess failures readable in pytest's report; `VenvPool`
keeps virtualenvs for generated projects between runs, keyed by the
project's declared dependencies, so a second run installs only the project.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

#: Fixed identity for commits the suite makes (no reliance on global git config).
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Template Tests",
    "GIT_AUTHOR_EMAIL": "template-tests@example.com",
    "GIT_COMMITTER_NAME": "Template Tests",
    "GIT_COMMITTER_EMAIL": "template-tests@example.com",
}

#: Variables that would leak the suite's own pytest/xdist/virtualenv state into
#: a generated project's tools (e.g. PYTEST_XDIST_WORKER makes a nested pytest
#: believe it is an xdist worker).
_LEAKY_PREFIXES = ("PYTEST_", "COV_CORE_", "FLASK_", "CELERY_")
_LEAKY_NAMES = {
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "DATABASE_URL",
    "TEST_DATABASE_URL",
    "SECRET_KEY",
    "REDIS_URL",
}

_OUTPUT_TAIL = 4000

Answers = dict[str, Any]
#: The `render` fixture's type: `render(answers, dst=None) -> Path`.
Render = Callable[..., Path]

F = TypeVar("F", bound=Callable[..., Any])


def clean_env(extra: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """The suite's environment without leaky variables, plus `extra` (None unsets)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in _LEAKY_NAMES and not key.startswith(_LEAKY_PREFIXES)
    }
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _tail(text: str) -> str:
    """The end of a long output: where the error usually is."""
    text = text.rstrip()
    if len(text) <= _OUTPUT_TAIL:
        return text
    return "[... cut ...]\n" + text[-_OUTPUT_TAIL:]


def run(
    cmd: Sequence[str | os.PathLike[str]],
    cwd: Path,
    env: Mapping[str, str | None] | None = None,
    timeout: float = 900,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure raise AssertionError with its command and output.

    The child gets `clean_env(env)`: the suite's environment minus variables
    that leak pytest or virtualenv state, plus `env`.
    """
    args = [os.fspath(part) for part in cmd]
    shown = " ".join(args)
    try:
        proc = subprocess.run(
            args,
            cwd=cwd,
            env=clean_env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        out = (
            exc.stdout.decode(errors="replace")
            if isinstance(exc.stdout, bytes)
            else exc.stdout or ""
        )
        err = (
            exc.stderr.decode(errors="replace")
            if isinstance(exc.stderr, bytes)
            else exc.stderr or ""
        )
        raise AssertionError(
            f"command timed out after {timeout:g}s: {shown}\n(cwd: {cwd})\n"
            f"--- stdout ---\n{_tail(out)}\n--- stderr ---\n{_tail(err)}"
        ) from None
    if check and proc.returncode != 0:
        raise AssertionError(
            f"command failed with exit code {proc.returncode}: {shown}\n(cwd: {cwd})\n"
            f"--- stdout ---\n{_tail(proc.stdout)}\n--- stderr ---\n{_tail(proc.stderr)}"
        )
    return proc


def run_project_tests(
    venv: Path, project: Path, *args: str, extra: Mapping[str, str | None] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a generated project's own test suite from its venv (`extra`: its environment)."""
    return run(
        [venv_bin(venv, "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=project,
        env=tool_env(venv, extra),
        timeout=900,
    )


def answers_slug(answers: Mapping[str, Any]) -> str:
    """A short, path-safe label for an answer set."""
    label = "-".join(str(v) for v in answers.values())
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:40] or "defaults"


def copy_template(clone: Path, dst: Path, answers: Answers, **kwargs: Any) -> None:
    """Render the template with copier's Python API, answering with defaults."""
    import copier

    options: dict[str, Any] = {
        "defaults": True,
        "vcs_ref": "HEAD",
        "unsafe": False,
        "quiet": True,
    }
    options.update(kwargs)
    copier.run_copy(src_path=str(clone), dst_path=dst, data=dict(answers), **options)


def git_commit_all(project: Path, message: str) -> None:
    """Make `project` a git repository with everything committed (tools like
    pre-commit and `copier update` expect one)."""
    if not (project / ".git").exists():
        run(["git", "init", "--quiet", "--initial-branch=main"], cwd=project)
    run(["git", "add", "--all"], cwd=project, env=GIT_IDENTITY)
    run(
        ["git", "commit", "--quiet", "--no-verify", "--allow-empty", "-m", message],
        cwd=project,
        env=GIT_IDENTITY,
    )


def check(name: str, answers: Mapping[str, Any] | None = None) -> Callable[[F], F]:
    """Name what a test checks, for the coverage summary printed after the run.

    The answer set comes from the test's `answers` parameter, or from
    `answers` here for a test that is not parametrized by answer set.
    """

    def mark(func: F) -> F:
        func.template_check = name  # type: ignore[attr-defined]
        func.template_answers = dict(answers) if answers is not None else None  # type: ignore[attr-defined]
        return func

    return mark


# --------------------------------------------------------------------------
# The answer matrix
# --------------------------------------------------------------------------

#: Up to this many combinations of closed answers, the matrix renders them all;
#: beyond it, a pairwise cover (every pair of answers to two questions, together
#: in at least one project) keeps the suite's run time in bounds.
MAX_FULL_MATRIX = 48


def committed_copier_config() -> dict[str, Any]:
    """copier.yml as committed at HEAD: the template the suite renders (a clone)."""
    text = run(["git", "show", "HEAD:copier.yml"], cwd=Path(__file__).resolve().parent).stdout
    config = yaml.safe_load(text)
    assert isinstance(config, dict), "copier.yml is not a mapping"
    return config


def closed_questions(config: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Each question with a closed set of answers: its choices, or yes/no for a bool.

    Read from copier.yml, so a new choice (or a new choice question) widens the
    matrix without touching the suite.
    """
    found: dict[str, list[Any]] = {}
    for name, spec in config.items():
        if name.startswith("_") or not isinstance(spec, dict):
            continue
        choices = spec.get("choices")
        if isinstance(choices, dict):
            values = list(choices.values())
        elif isinstance(choices, list):
            values = [c[-1] if isinstance(c, list) else c for c in choices]
        elif spec.get("type") == "bool":
            values = [True, False]
        else:
            continue
        # A choice may be spelled {value: ..., validator: ...}.
        values = [v["value"] if isinstance(v, dict) else v for v in values]
        # The default first: a matrix then starts with what most users get.
        values.sort(key=lambda value: value != spec.get("default"))
        found[name] = values
    return found


def pairwise_cover(questions: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Answer sets in which every pair of answers to two questions occurs at least once.

    Greedy and deterministic: each new row starts from the first pair still
    uncovered and picks, question by question, the answer covering most new pairs.
    """
    names = list(questions)

    def pairs(row: Mapping[str, Any]) -> set[tuple[Any, ...]]:
        """The (question, answer, question, answer) pairs a partial row covers."""
        chosen = [name for name in names if name in row]
        return {(a, row[a], b, row[b]) for i, a in enumerate(chosen) for b in chosen[i + 1 :]}

    uncovered: list[tuple[Any, ...]] = [
        (a, va, b, vb)
        for i, a in enumerate(names)
        for b in names[i + 1 :]
        for va in questions[a]
        for vb in questions[b]
    ]
    rows: list[dict[str, Any]] = []
    while uncovered:
        a, va, b, vb = uncovered[0]
        row: dict[str, Any] = {a: va, b: vb}
        for name in names:
            if name in row:
                continue

            still_open = set(uncovered)
            row[name] = max(
                questions[name],
                key=lambda value: len(pairs({**row, name: value}) & still_open),
            )
        rows.append({name: row[name] for name in names})
        covered = pairs(row)
        uncovered = [pair for pair in uncovered if pair not in covered]
    return rows


#: The project name of every matrix answer set: one package name, so answer sets
#: with the same dependencies share a venv whose mypy cache is warm for them.
MATRIX_PROJECT_NAME = "Demo App"


def matrix_answers(
    questions: Mapping[str, Sequence[Any]], closed: Mapping[str, Any] | None = None
) -> Answers:
    """A matrix answer set: `closed` over the defaults, in copier.yml's order.

    Tests elsewhere that build the same answer set get the same render and,
    through `closed_answers_id`, the same worker as the matrix.
    """
    chosen = {name: (closed or {}).get(name, values[0]) for name, values in questions.items()}
    return {"project_name": MATRIX_PROJECT_NAME, **chosen}


def answer_matrix(questions: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the closed answers, or a pairwise cover if there are too many.

    The first questions vary fastest: the stack questions come first in copier.yml,
    so neighbouring answer sets need different venvs, and parallel workers that
    start on neighbours do not both build (and type-check from cold) the same one.
    """
    names = list(questions)
    backwards = names[::-1]
    combos = [
        {name: dict(zip(backwards, values, strict=True))[name] for name in names}
        for values in itertools.product(*(questions[name] for name in backwards))
    ]
    return combos if len(combos) <= MAX_FULL_MATRIX else pairwise_cover(questions)


def closed_answers_id(answers: Mapping[str, Any], questions: Mapping[str, Sequence[Any]]) -> str:
    """A test id naming the closed answers in question order (bools as name / no_name).

    Modules that share it for the same answer set share a worker (conftest's
    scheduler), and so one render and one venv.
    """
    parts = []
    for name in questions:
        value = answers[name]
        parts.append(name if value is True else f"no_{name}" if value is False else str(value))
    return "-".join(parts)


# --------------------------------------------------------------------------
# Virtualenvs for generated projects
# --------------------------------------------------------------------------

#: Bump when the layout of cached venvs changes, to stop reusing old ones.
#: 2: dependencies installed with their bytecode compiled (see VenvPool._prepare).
_CACHE_FORMAT = "2"


def read_pyproject(project: Path) -> dict[str, Any]:
    """The generated project's parsed pyproject.toml."""
    with (project / "pyproject.toml").open("rb") as fh:
        return tomllib.load(fh)


#: uv's default resolution: the newest versions the project's ranges allow.
HIGHEST = "highest"
#: The lowest versions the project's own ranges allow (its transitive ones newest).
LOWEST_DIRECT = "lowest-direct"


def deps_key(project: Path, resolution: str = HIGHEST, python: str = sys.executable) -> str:
    """Hash what decides a venv's contents: the declared dependencies, how uv
    resolves them, and the Python."""
    meta = read_pyproject(project).get("project", {})
    material = {
        "format": _CACHE_FORMAT,
        "python": list(sys.version_info[:2]) if python == sys.executable else python,
        "resolution": resolution,
        "requires-python": meta.get("requires-python"),
        "dependencies": sorted(meta.get("dependencies", [])),
        "optional": {
            k: sorted(v) for k, v in sorted(meta.get("optional-dependencies", {}).items())
        },
    }
    blob = json.dumps(material, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def venv_bin(venv: Path, tool: str) -> Path:
    """The path of a console script inside a venv."""
    return venv / "bin" / tool


def tool_env(venv: Path, extra: Mapping[str, str | None] | None = None) -> dict[str, str | None]:
    """Variables that make a project's tools run from its venv, as if activated."""
    env: dict[str, str | None] = {
        "VIRTUAL_ENV": str(venv),
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        # mypy's cache of third-party stubs is reused with the venv.
        "MYPY_CACHE_DIR": str(venv / ".mypy_cache"),
    }
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class VenvPool:
    """Cached virtualenvs for generated projects, shared across runs and workers.

    A venv lives in `<root>/<deps-hash>-<slot>`. Using one takes an exclusive
    lock on its slot for as long as the caller holds it, so parallel workers
    never install into, or test from, the same venv at once: a busy slot makes
    the caller take (or build) the next one.
    """

    root: Path
    uv: Path
    uv_cache: Path
    python: str = sys.executable

    def _uv(self, *args: str | os.PathLike[str], cwd: Path) -> None:
        """Run uv with the suite's cache and without downloading Pythons."""
        run(
            [self.uv, *args],
            cwd=cwd,
            env={
                "UV_CACHE_DIR": str(self.uv_cache),
                "UV_PYTHON_DOWNLOADS": "never",
                "UV_NO_PROGRESS": "1",
            },
            timeout=1200,
        )

    @contextlib.contextmanager
    def acquire(
        self, project: Path, resolution: str = HIGHEST, python: str | None = None
    ) -> Iterator[Path]:
        """Hold a venv with `project[dev]` installed (editable) until the block ends.

        `resolution` is uv's (`HIGHEST` or `LOWEST_DIRECT`); `python` an
        interpreter's path (default: the suite's own).
        """
        self.root.mkdir(parents=True, exist_ok=True)
        python = python or self.python
        key = deps_key(project, resolution, python)
        slot = 0
        while True:
            lock_path = self.root / f"{key}-{slot}.lock"
            with lock_path.open("a+") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    slot += 1
                    continue
                try:
                    venv = self.root / f"{key}-{slot}"
                    self._prepare(venv, project, resolution, python)
                    yield venv
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)
                return

    def prune(self, max_age_days: float = 14) -> None:
        """Delete venvs no run has used for a while (old dependency sets)."""
        if not self.root.is_dir():
            return
        cutoff = time.time() - max_age_days * 86400
        for lock_path in self.root.glob("*.lock"):
            venv = lock_path.with_suffix("")
            marker = venv / ".template-tests.json"
            with lock_path.open("a+") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # in use right now
                try:
                    if not marker.exists() or marker.stat().st_mtime < cutoff:
                        shutil.rmtree(venv, ignore_errors=True)
                        lock_path.unlink(missing_ok=True)
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)

    def _prepare(self, venv: Path, project: Path, resolution: str, base_python: str) -> None:
        """Build the venv if needed, then make `project` the installed one."""
        marker = venv / ".template-tests.json"
        name = str(read_pyproject(project)["project"]["name"])
        state: dict[str, str] = {}
        if marker.exists():
            state = json.loads(marker.read_text())
        python = venv / "bin" / "python"
        if not state or not python.exists():
            shutil.rmtree(venv, ignore_errors=True)
            self._uv("venv", "--quiet", "--python", base_python, venv, cwd=self.root)
            # Compiled once here: with PYTHONDONTWRITEBYTECODE set (it is here), every
            # process of a project's suite would otherwise recompile SQLAlchemy & co.
            self._uv(
                "pip",
                "install",
                "--quiet",
                "--compile-bytecode",
                "--resolution",
                resolution,
                "--python",
                python,
                "--editable",
                f"{project}[dev]",
                cwd=project,
            )
        elif state.get("project") != str(project):
            if state.get("name") and state["name"] != name:
                self._uv(
                    "pip", "uninstall", "--quiet", "--python", python, state["name"], cwd=project
                )
            self._uv(
                "pip",
                "install",
                "--quiet",
                "--python",
                python,
                "--no-deps",
                "--reinstall-package",
                name,
                "--editable",
                str(project),
                cwd=project,
            )
        else:
            marker.touch()  # recently used: keep it from prune()
            return
        marker.write_text(json.dumps({"project": str(project), "name": name}))
