"""Shared plumbing for the benchmark scripts: render, install, serve.

The benchmarks measure the *generated* project, so, like the template's own
suite, they render from a clean clone of the committed template and install
the result into one of the suite's cached venvs. Rendering, venvs and servers
come from the suite's own helpers (`tests/projects.py`, `tests/servers.py`);
this module only strings them together for a script that is not a pytest run.

Run the scripts with the suite's interpreter (`.venv-test/bin/python`, made by
`bin/test`): it has copier, uv and psycopg.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
TESTS_DIR = REPO_ROOT / "tests"
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

import projects  # noqa: E402  (the suite's helpers, importable once tests/ is on the path)
import servers  # noqa: E402

#: The answers the benchmarks render with: the defaults (SQLite), whose dev
#: extras also install psycopg, so the same venv runs against PostgreSQL.
ANSWERS: dict[str, Any] = {"project_name": "Bench App"}


@dataclass(frozen=True)
class Project:
    """A rendered project and the venv it is installed in."""

    path: Path
    venv: Path
    package: str

    @property
    def python(self) -> Path:
        return projects.venv_bin(self.venv, "python")

    def env(self, extra: Mapping[str, str | None] | None = None) -> dict[str, str | None]:
        """Variables for the project's tools: its venv first on PATH, a secret key.

        Bytecode writing is switched back on (some machines set
        PYTHONDONTWRITEBYTECODE): uv installs without .pyc files, and compiling
        SQLAlchemy and friends from source again in every process costs seconds.
        """
        return projects.tool_env(
            self.venv,
            {
                "SECRET_KEY": "benchmark-" + "x" * 32,
                "PYTHONDONTWRITEBYTECODE": None,
                **(extra or {}),
            },
        )

    def run(
        self,
        cmd: Sequence[str | os.PathLike[str]],
        extra: Mapping[str, str | None] | None = None,
        timeout: float = 1800,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in the project's environment; raise with its output on failure."""
        return projects.run(cmd, cwd=cwd or self.path, env=self.env(extra), timeout=timeout)

    def flask(
        self, *args: str, extra: Mapping[str, str | None] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`flask --app <package> ...` from the project's root, as its README says."""
        return self.run(
            [projects.venv_bin(self.venv, "flask"), "--app", self.package, *args], extra=extra
        )


def cache_root() -> Path:
    """The suite's cache of venvs and downloads (same rule as tests/conftest.py)."""
    override = os.environ.get("TEMPLATE_TESTS_CACHE")
    return Path(override).resolve() if override else REPO_ROOT / ".cache"


@contextlib.contextmanager
def isolated_environment(home: Path) -> Iterator[None]:
    """Keep the user's copier settings and git config out, as the suite does."""
    settings = home / "copier-settings.yml"
    settings.write_text("{}\n")
    gitconfig = home / "gitconfig"
    gitconfig.write_text("")
    changes = {
        "COPIER_SETTINGS_PATH": str(settings),
        "GIT_CONFIG_GLOBAL": str(gitconfig),
        "GIT_CONFIG_NOSYSTEM": "1",
        **projects.GIT_IDENTITY,
    }
    saved = {key: os.environ.get(key) for key in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def clone_template(workdir: Path) -> Path:
    """A clean clone of the committed template (uncommitted edits are not measured)."""
    clone = workdir / "template"
    projects.run(
        ["git", "clone", "--quiet", "--no-hardlinks", str(REPO_ROOT), str(clone)], cwd=REPO_ROOT
    )
    return clone.resolve()


@contextlib.contextmanager
def rendered_project(template: Path | None = None) -> Iterator[Project]:
    """Render the template into a temp dir and hold an installed venv for it.

    `template` is a clone to render from (the smoke test passes the suite's);
    by default a fresh clone of this repository's HEAD.
    """
    from uv import find_uv_bin

    with contextlib.ExitStack() as stack:
        workdir = Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="tpl-bench-"))
        ).resolve()
        stack.enter_context(isolated_environment(workdir))
        clone = template.resolve() if template else clone_template(workdir)
        path = workdir / "project"
        projects.copy_template(clone, path, ANSWERS)
        projects.git_commit_all(path, "Render the template")
        answers = yaml.safe_load((path / ".copier-answers.yml").read_text())
        cache = cache_root()
        pool = projects.VenvPool(
            root=cache / "venvs", uv=Path(find_uv_bin()), uv_cache=cache / "uv"
        )
        venv = stack.enter_context(pool.acquire(path))
        yield Project(path=path, venv=venv, package=str(answers["package_name"]))


@contextlib.contextmanager
def maybe_postgres(wanted: bool) -> Iterator[str | None]:
    """A throwaway PostgreSQL server (the suite's), or None when absent or unwanted."""
    if not wanted:
        yield None
        return
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(servers.postgres_server())
        except servers.ServerUnavailable as exc:
            print(f"PostgreSQL: skipped ({exc})", flush=True)
            url = None
        yield url


def fresh_postgres_database(server_url: str, name: str) -> str:
    """An empty database on the server (the suite's helper)."""
    return servers.fresh_database(server_url, name)


def median(values: Sequence[float]) -> float:
    """The median: robust to the odd slow run on a noisy two-core machine."""
    return float(statistics.median(values))


def ratio(numerator: float, denominator: float) -> str:
    """`12.3x`, or `n/a` when the denominator is zero."""
    return f"{numerator / denominator:.1f}x" if denominator else "n/a"


def verdict(met: bool) -> str:
    """How a goal line ends."""
    return "MET" if met else "MISSED"
