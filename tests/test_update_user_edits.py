"""`copier update` from the owner's side: their edits stay, the template's arrive.

Each test edits a project generated from the synthetic v1.0.0
(harness/synthetic_releases.py) and updates it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.checks import check
from harness.commands import run
from harness.copier_cli import check_update, update, update_report
from harness.git import git, git_commit_all
from harness.rendering import recorded_answers
from harness.synthetic_releases import (
    ANSWERS,
    PACKAGE,
    USER_CLASHING_LINE,
    USER_HEALTH_EDIT,
    USER_MODULE,
    USER_TEST,
    V2_ENV_LINE,
    V2_HEALTH_LINE,
    Lineage,
    insert_after_first_line,
    template_file,
)
from harness.trees import copy_project, leftovers, repository_check
from harness.venvs import run_project_tests


@pytest.mark.full
@check("update keeps owner's and template's changes", ANSWERS)
def test_update_merges_owner_edits_with_template_changes(
    lineage: Lineage, tmp_path: Path, project_env: Callable[[Path], Path]
) -> None:
    project = copy_project(lineage.v1_project, tmp_path / "project")
    health = project / "src" / PACKAGE / "health.py"
    health.write_text(health.read_text() + USER_HEALTH_EDIT)
    (project / "src" / PACKAGE / "reports.py").write_text(USER_MODULE)
    (project / "tests" / "test_reports.py").write_text(USER_TEST)
    git_commit_all(project, "The owner's work")

    assert check_update(project) == 2, "check-update --quiet exits 2 while a newer release exists"
    report = update_report(project)
    assert report["update_available"] and report["latest_version"] == "2.0.0", report

    update(project)  # no --trust: no migration applies to this update

    assert recorded_answers(project)["_commit"] == "v2.0.0"
    assert leftovers(project) == []
    text = health.read_text()
    assert V2_HEALTH_LINE in text and USER_HEALTH_EDIT.strip() in text, (
        "both edits are in the module"
    )
    assert (project / "src" / PACKAGE / "reports.py").read_text() == USER_MODULE
    assert (project / "tests" / "test_reports.py").read_text() == USER_TEST
    assert 'PACKAGE = "update_demo"' in (project / "src" / PACKAGE / "about.py").read_text()
    assert check_update(project) == 0, "nothing newer after the update"
    assert repository_check(project).returncode == 0

    git_commit_all(project, "Update to template v2.0.0")
    run_project_tests(project_env(project), project)


@pytest.mark.render
@check("conflicting edit leaves markers the project's check catches", ANSWERS)
def test_clashing_edit_leaves_markers_that_the_project_check_rejects(
    lineage: Lineage, tmp_path: Path
) -> None:
    project = copy_project(lineage.v1_project, tmp_path / "project")
    assert repository_check(project).returncode == 0, "a fresh project passes its own check"
    health = project / "src" / PACKAGE / "health.py"
    insert_after_first_line(health, USER_CLASHING_LINE)  # where v2 adds its own line
    git_commit_all(project, "The owner's note")

    proc = update(project)

    assert proc.returncode == 0, "copier exits 0 even with conflicts"
    assert leftovers(project) == [f"src/{PACKAGE}/health.py"]
    text = health.read_text()
    assert (
        f"<<<<<<< before updating\n{USER_CLASHING_LINE}\n=======\n{V2_HEALTH_LINE}\n>>>>>>> after updating"
        in text
    )
    check_run = repository_check(project)
    assert check_run.returncode == 1, check_run.stdout
    assert (
        "test_no_conflict_markers" in check_run.stdout
        and f"src/{PACKAGE}/health.py" in check_run.stdout
    )


@pytest.mark.render
@check(".env survives update, never tracked", ANSWERS)
def test_env_file_is_owned_by_the_user_and_never_committed(
    lineage: Lineage, tmp_path: Path
) -> None:
    project = copy_project(lineage.v1_project, tmp_path / "project")
    env = project / ".env"
    secret = re.search(r"^SECRET_KEY=(\S+)$", env.read_text(), re.MULTILINE)
    assert secret, "a generated .env holds a SECRET_KEY"
    assert git(project, "ls-files", ".env") == "", ".env must not be committed"
    assert (
        run(["git", "check-ignore", "--quiet", ".env"], cwd=project, must_succeed=False).returncode
        == 0
    )
    tracked = [project / name for name in git(project, "ls-files").split()]
    assert not [
        p for p in tracked if p.is_file() and secret.group(1) in p.read_text(errors="replace")
    ]

    owned = env.read_text() + "MY_OWN_SETTING=42\n"
    env.write_text(owned)  # ignored by git, so the project stays clean
    update(project)

    assert env.read_text() == owned, "update leaves .env exactly as the owner left it"
    assert V2_ENV_LINE in template_file(lineage.repo, ".env").read_text(), "though v2 changed .env"
    assert git(project, "ls-files", ".env") == ""
    changed = [
        line[3:]
        for line in git(project, "status", "--porcelain", "--untracked-files=all").splitlines()
    ]
    assert ".env" not in changed
