"""The copier CLI as a user runs it: copy, update, check-update."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.commands import run
from harness.git import git_commit_all

#: Exit code of copier when a template needs `--trust` (nothing is written).
COPIER_UNSAFE_EXIT = 4


def copier_cli(
    *args: str | Path, cwd: Path, must_succeed: bool = True
) -> subprocess.CompletedProcess[str]:
    """The copier CLI, as a user runs it (`python -m copier` of the suite's venv)."""
    return run(
        [sys.executable, "-m", "copier", *map(str, args)],
        cwd=cwd,
        must_succeed=must_succeed,
        timeout=300,
    )


def data_args(answers: Mapping[str, Any]) -> list[str]:
    return [f"--data={key}={value}" for key, value in answers.items()]


def generate(template: Path, dst: Path, ref: str, answers: Mapping[str, Any]) -> Path:
    """`copier copy` at `ref` (no --trust), then the owner's first commit."""
    copier_cli(
        "copy",
        "--defaults",
        "--quiet",
        f"--vcs-ref={ref}",
        *data_args(answers),
        template,
        dst,
        cwd=template,
    )
    git_commit_all(dst, "Generate from the template")
    return dst


def update(
    project: Path, *args: str, trust: bool = False, must_succeed: bool = True
) -> subprocess.CompletedProcess[str]:
    """`copier update --defaults` in the project (copier refuses a dirty one)."""
    return copier_cli(
        "update",
        "--defaults",
        *(["--trust"] if trust else []),
        *args,
        cwd=project,
        must_succeed=must_succeed,
    )


def check_update(project: Path) -> int:
    """`copier check-update --quiet`: 2 when a newer release exists, else 0."""
    return copier_cli("check-update", "--quiet", cwd=project, must_succeed=False).returncode


def update_report(project: Path) -> dict[str, Any]:
    """`copier check-update`'s JSON report (update_available, latest_version, ...)."""
    out = copier_cli("check-update", "--output-format=json", cwd=project).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))
