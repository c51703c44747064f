"""The template repository's own workflow runs this suite with what it needs.

A fork is tested on every push only if `.github/workflows/test.yml` is valid and
gives bin/test the server binaries harness/servers.py starts, the history the
update tests rebuild releases from, and both Pythons test_dependency_ranges.py
installs generated projects with.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.version import Version

from harness.schemas import valid_workflow

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / ".github" / "workflows" / "test.yml"

pytestmark = pytest.mark.render


def test_workflow_runs_the_suite_with_servers_history_and_both_pythons() -> None:
    workflow = valid_workflow(WORKFLOW)
    triggers = workflow.get("on", workflow.get(True))
    assert {"push", "pull_request"} <= set(triggers), triggers
    (job,) = workflow["jobs"].values()
    steps = job["steps"]
    scripts = "\n".join(str(step.get("run", "")) for step in steps)
    assert re.search(r"^bin/test\b", scripts, re.MULTILINE), scripts
    for package in ("postgresql", "redis-server"):
        assert re.search(rf"apt-get install .*\b{package}\b", scripts), package

    (checkout,) = (s for s in steps if str(s.get("uses", "")).startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0, "the update tests need every release commit"

    (setup,) = (s for s in steps if str(s.get("uses", "")).startswith("actions/setup-python@"))
    pythons = str(setup["with"]["python-version"]).split()
    pyproject = (REPO / "template" / "pyproject.toml.jinja").read_text()
    floor = re.search(r'^requires-python = ">=(\d+\.\d+)"$', pyproject, re.MULTILINE)
    assert floor, "requires-python is not a plain floor"
    assert floor.group(1) in pythons, (floor.group(1), pythons)
    assert any(Version(v) > Version(floor.group(1)) for v in pythons), pythons
