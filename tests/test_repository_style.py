"""The template repository's own Python (tests, hooks, benchmarks) stays lint-clean.

Generated projects are held to their own ruff and mypy settings elsewhere;
this holds the code that tests them to ``ruff.toml`` at the repository root.
"""

import sys
from pathlib import Path

import pytest

from harness.commands import run

REPO = Path(__file__).resolve().parents[1]
RUFF = [sys.executable, "-m", "ruff"]


@pytest.mark.render
def test_ruff_check_passes() -> None:
    run([*RUFF, "check", "--no-cache", "."], cwd=REPO)


@pytest.mark.render
def test_ruff_format_leaves_code_alone() -> None:
    run([*RUFF, "format", "--check", "--no-cache", "."], cwd=REPO)
