"""`copier update` across synthetic releases: what an unedited project gets.

The template versions are built in a clone (harness/synthetic_releases.py);
copier runs as users run it, the CLI of the suite's venv in a subprocess.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from harness import servers
from harness.checks import check
from harness.copier_cli import COPIER_UNSAFE_EXIT, generate, update
from harness.git import git, git_commit_all
from harness.rendering import answers_slug, recorded_answers
from harness.synthetic_releases import (
    ANSWERS,
    MIGRATION_LOG,
    MOVED_FROM,
    MOVED_TO,
    PACKAGE,
    USER_HEALTH_TEST,
    V3_MOVED_LINE,
    Lineage,
)
from harness.trees import assert_same_tree, copy_project, leftovers
from harness.venvs import run_project_tests


@pytest.mark.render
@check("unedited project updated equals fresh copy", ANSWERS)
def test_unedited_project_updated_equals_fresh_copy(lineage: Lineage, tmp_path: Path) -> None:
    project = copy_project(lineage.v1_project, tmp_path / "project")
    update(project)
    fresh = generate(lineage.repo, tmp_path / "fresh", "v2.0.0", ANSWERS)

    assert_same_tree(project, fresh)


@pytest.mark.full
@check("update --data database=postgresql", ANSWERS)
def test_changing_an_answer_adds_exactly_that_feature(
    lineage: Lineage, tmp_path: Path, project_env: Callable[[Path], Path], postgres_url: str
) -> None:
    project = copy_project(lineage.v1_project, tmp_path / "project")
    env_before = (project / ".env").read_text()

    update(project, "--vcs-ref=v1.0.0", "--data=database=postgresql")

    fresh = generate(
        lineage.repo, tmp_path / "fresh", "v1.0.0", {**ANSWERS, "database": "postgresql"}
    )
    assert_same_tree(project, fresh)
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert any(dep.startswith("psycopg") for dep in pyproject["project"]["dependencies"])
    assert recorded_answers(project)["database"] == "postgresql"
    # .env is the owner's: the update does not add the DATABASE_URL a fresh copy has.
    assert (project / ".env").read_text() == env_before

    git_commit_all(project, "Switch to PostgreSQL")
    database = servers.fresh_database(postgres_url, answers_slug({"n": "update-pg"}))
    run_project_tests(project_env(project), project, extra={"TEST_DATABASE_URL": database})


@pytest.mark.render
@check("copy never needs --trust", ANSWERS)
def test_copy_never_needs_trust(
    moving_lineage: Lineage, template_clone: Path, tmp_path: Path
) -> None:
    """Even a version whose copier.yml declares `_migrations` copies without --trust."""
    config = yaml.safe_load((moving_lineage.repo / "copier.yml").read_text())
    assert config["_migrations"], "the newest synthetic release declares migrations"
    generate(moving_lineage.repo, tmp_path / "synthetic", "v4.0.0", ANSWERS)
    generate(template_clone, tmp_path / "real", "HEAD", ANSWERS)


@pytest.mark.render
@check("migration moves owner's file, runs once", ANSWERS)
def test_migration_moves_owner_file_and_runs_once(moving_lineage: Lineage, tmp_path: Path) -> None:
    project = copy_project(moving_lineage.v1_project, tmp_path / "project")
    old, new = project / MOVED_FROM, project / MOVED_TO
    old.write_text(old.read_text() + USER_HEALTH_TEST)
    git_commit_all(project, "The owner's extra health test")
    log = project / MIGRATION_LOG

    refused = update(project, "--vcs-ref=v3.0.0", must_succeed=False)
    assert refused.returncode == COPIER_UNSAFE_EXIT, "a migration applies, so copier wants --trust"
    assert git(project, "status", "--porcelain") == "" and not log.exists(), "and writes nothing"
    assert recorded_answers(project)["_commit"] == "v1.0.0"

    update(project, "--vcs-ref=v3.0.0", trust=True)

    assert log.read_text().splitlines() == ["before 1.0.0 -> 3.0.0", "after 1.0.0 -> 3.0.0"]
    assert not old.exists()
    moved = new.read_text()
    assert USER_HEALTH_TEST.strip() in moved, "the owner's edit followed the file"
    assert V3_MOVED_LINE in moved, "and the release's change to it merged in"
    assert leftovers(project) == []
    assert git(project, "ls-files", "--unmerged") == ""
    git_commit_all(project, "Update to template v3.0.0")

    update(project)  # v4.0.0 still declares the v3.0.0 migration: not applicable, so no --trust

    assert log.read_text().splitlines() == ["before 1.0.0 -> 3.0.0", "after 1.0.0 -> 3.0.0"], (
        "ran once"
    )
    assert recorded_answers(project)["_commit"] == "v4.0.0"
    assert new.read_text() == moved
    assert 'TEMPLATE_RELEASE = "v4"' in (project / "src" / PACKAGE / "about.py").read_text()
