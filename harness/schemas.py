"""Validating YAML the template ships (workflows, Dependabot) against published schemas."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from harness.commands import run


def check_schema(path: Path, schema: str) -> None:
    """Validate against a schema check-jsonschema ships (offline)."""
    run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, path],
        cwd=path.parent,
    )


def valid_workflow(path: Path) -> dict[str, Any]:
    """A GitHub Actions workflow, parsed, once it passes the workflow schema."""
    check_schema(path, "vendor.github-workflows")
    workflow = yaml.safe_load(path.read_text())
    assert isinstance(workflow, dict), workflow
    return workflow
