"""A project's files, compared and searched for what an update left unresolved."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from harness.commands import run

#: What the generated project's own check looks for (tests/test_repository.py).
CONFLICT_MARKER = re.compile(r"^(<{7}|>{7})( |$)", re.MULTILINE)


def copy_project(project: Path, dst: Path) -> Path:
    """A private copy (git history included) of a pre-rendered project."""
    shutil.copytree(project, dst, symlinks=True)
    return dst


def project_files(project: Path) -> Iterator[Path]:
    """The project's files, git's own directory left out."""
    for path in sorted(project.rglob("*")):
        if path.is_file() and ".git" not in path.relative_to(project).parts[:1]:
            yield path


def leftovers(project: Path) -> list[str]:
    """Files with conflict markers, and `.rej` files: what an update left unresolved."""
    found = []
    for path in project_files(project):
        rel = str(path.relative_to(project))
        if path.suffix == ".rej":
            found.append(rel)
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        if CONFLICT_MARKER.search(text):
            found.append(rel)
    return found


def tree(project: Path, ignore: frozenset[str] = frozenset({".env"})) -> dict[str, bytes]:
    """The project's files by relative path, for comparing two projects."""
    return {
        str(path.relative_to(project)): path.read_bytes()
        for path in project_files(project)
        if str(path.relative_to(project)) not in ignore
    }


def assert_same_tree(actual: Path, expected: Path) -> None:
    """Two projects hold the same files with the same bytes (`.env` aside)."""
    left, right = tree(actual), tree(expected)
    assert sorted(left) == sorted(right), "the projects hold different files"
    differing = [name for name in left if left[name] != right[name]]
    assert not differing, f"files differ from a fresh render: {differing}"


def repository_check(project: Path) -> subprocess.CompletedProcess[str]:
    """The project's own leftover check (its pre-commit hook runs the same file).

    `tests/test_repository.py` needs only pytest and the standard library, so the
    suite's interpreter runs it; `--noconftest` skips the project's fixtures,
    which import the (uninstalled) app.
    """
    return run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--noconftest",
            "tests/test_repository.py",
        ],
        cwd=project,
        must_succeed=False,
    )
