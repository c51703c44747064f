"""Shared plumbing for the benchmark scripts: render, install, serve.

The benchmarks measure the *generated* project, so, like the template's own
suite, they render from a clean clone of the committed template and install
the result into one of the suite's cached venvs. Rendering, venvs and servers
come from the rest of the harness;
this module only strings them together for a script that is not a pytest run.

Run the scripts with the suite's interpreter (`.venv-test/bin/python`, made by
`bin/test`): it has copier, uv and psycopg.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from harness import servers
from harness.environment import cache_root, isolation_variables
from harness.git import clone_template, git_commit_all
from harness.processes import ServerUnavailable
from harness.project import Project
from harness.rendering import copy_template, package_name
from harness.venvs import VenvPool

#: The answers the benchmarks render with: the defaults (SQLite), whose dev
#: extras also install psycopg, so the same venv runs against PostgreSQL.
ANSWERS: dict[str, Any] = {"project_name": "Bench App"}


@contextlib.contextmanager
def isolated_environment(home: Path) -> Iterator[None]:
    """Keep the user's copier settings and git config out, as the suite does."""
    changes = isolation_variables(home)
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


@contextlib.contextmanager
def rendered_project(template: Path | None = None) -> Iterator[Project]:
    """Render the template into a temp dir and hold an installed venv for it.

    `template` is a clone to render from (the smoke test passes the suite's);
    by default a fresh clone of this repository's HEAD.
    """
    with contextlib.ExitStack() as stack:
        workdir = Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="tpl-bench-"))
        ).resolve()
        stack.enter_context(isolated_environment(workdir))
        clone = template.resolve() if template else clone_template(workdir / "template")
        path = workdir / "project"
        copy_template(clone, path, ANSWERS)
        git_commit_all(path, "Render the template")
        venv = stack.enter_context(VenvPool.in_cache(cache_root()).acquire(path))
        yield Project(path=path, venv=venv, package=package_name(path))


@contextlib.contextmanager
def maybe_postgres(wanted: bool) -> Iterator[str | None]:
    """A throwaway PostgreSQL server (the suite's), or None when absent or unwanted."""
    if not wanted:
        yield None
        return
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(servers.postgres_server())
        except ServerUnavailable as exc:
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


# --------------------------------------------------------------------------
# The scripts' command line and report lines
# --------------------------------------------------------------------------


def argument_parser(doc: str | None, *, postgres: bool = True) -> argparse.ArgumentParser:
    """A benchmark's parser with the flags every script shares: `--template`
    and, for scripts that measure both backends, `--no-postgres`."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--template", type=Path, help="a clone of the template to render (default: clone HEAD)"
    )
    if postgres:
        parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    return parser


def announce(project: Project) -> None:
    """Say what is being measured, before the first figure."""
    print(f"project {project.package} rendered at {project.path}; venv {project.venv}", flush=True)


def goal_line(goal: str, met: bool, figure: str) -> str:
    """`  goal: <goal>: MET (<figure>)`, the line a reader (and the smoke test) looks for."""
    return f"  goal: {goal}: {verdict(met)} ({figure})"


@contextlib.contextmanager
def workspace(args: argparse.Namespace, prefix: str) -> Iterator[tuple[Project, str | None, Path]]:
    """What a two-backend benchmark measures in: the rendered, installed project,
    a PostgreSQL server's URL (None with `--no-postgres` or none installed) and
    a scratch directory; announced before the first figure."""
    with contextlib.ExitStack() as stack:
        project = stack.enter_context(rendered_project(args.template))
        postgres = stack.enter_context(maybe_postgres(not args.no_postgres))
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=prefix))).resolve()
        announce(project)
        yield project, postgres, workdir
