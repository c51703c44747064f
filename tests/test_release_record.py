"""The real releases: the release record (`releases.toml`) agrees with the tags
and the CHANGELOG, and a project updates from the oldest release to HEAD."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from packaging.version import Version

from harness.checks import check
from harness.commands import run
from harness.copier_cli import COPIER_UNSAFE_EXIT, generate, update
from harness.git import git, git_commit_all
from harness.releases import (
    RELEASE_RECORD,
    RELEASE_TAG,
    Release,
    clone_with_release_tags,
    missing_history_hint,
    read_release_record,
    tag_commit,
)
from harness.rendering import recorded_answers
from harness.synthetic_releases import (
    ANSWERS,
    PACKAGE,
)
from harness.trees import leftovers
from harness.venvs import run_project_tests


@pytest.fixture(scope="module")
def release_clone(
    template_clone: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[Release]]:
    """A clone of HEAD whose tags are the recorded releases."""
    return clone_with_release_tags(template_clone, tmp_path_factory.mktemp("releases") / "template")


@pytest.mark.render
@check("release record matches tags and CHANGELOG")
def test_release_record_matches_tags_and_changelog(template_clone: Path) -> None:
    """Each recorded release is in HEAD's history, agrees with its tag where the
    clone has one and has a CHANGELOG entry; each local release tag is recorded."""
    releases = read_release_record(template_clone)
    changelog_path = template_clone / "CHANGELOG.md"
    changelog = changelog_path.read_text() if changelog_path.is_file() else ""
    problems = []
    for release in releases:
        ancestor = run(
            ["git", "merge-base", "--is-ancestor", release.commit, "HEAD"],
            cwd=template_clone,
            must_succeed=False,
        )
        if ancestor.returncode != 0:
            problems.append(
                f"{release.tag}: {release.commit} is not in the history of HEAD{missing_history_hint(template_clone)}"
            )
        tagged = tag_commit(template_clone, release.tag)
        if tagged is not None and tagged != release.commit:
            problems.append(
                f"{release.tag}: the tag names {tagged}, the record {release.commit}; a release never moves"
            )
        version = re.escape(release.tag.removeprefix("v"))
        if not re.search(rf"^#+ .*(?<![\w.])v?{version}(?![\w.])", changelog, re.MULTILINE):
            problems.append(f"{release.tag}: no CHANGELOG.md heading names it")
    recorded = {release.tag for release in releases}
    for tag in git(template_clone, "tag", "--list").split():
        if RELEASE_TAG.match(tag) and tag not in recorded:
            problems.append(
                f"tag {tag} is not in {RELEASE_RECORD}: add the line "
                f'"{tag}" = "{tag_commit(template_clone, tag)}" under [releases] and commit'
            )
    assert not problems, "\n".join(problems)


@pytest.mark.full
@check("update from the oldest release to HEAD", ANSWERS)
def test_update_from_oldest_release_to_head(
    release_clone: tuple[Path, list[Release]], tmp_path: Path, project_env: Callable[[Path], Path]
) -> None:
    repo, releases = release_clone
    if not releases:
        pytest.skip(
            f"{RELEASE_RECORD} records no release yet; this runs from the first published release on"
        )
    oldest = releases[0]
    project = generate(repo, tmp_path / "project", oldest.tag, ANSWERS)
    assert recorded_answers(project)["_commit"] == oldest.tag

    proc = update(project, "--vcs-ref=HEAD", must_succeed=False)
    if proc.returncode == COPIER_UNSAFE_EXIT:
        # Only a migration between the two may ask for trust (no tasks, no extensions).
        config = yaml.safe_load((repo / "copier.yml").read_text())
        assert config.get("_migrations"), (
            f"copier wants --trust without any migration:\n{proc.stderr}"
        )
        proc = update(project, "--vcs-ref=HEAD", trust=True)
    assert proc.returncode == 0, proc.stderr

    head = git(repo, "describe", "--tags", "--always").strip()
    assert recorded_answers(project)["_commit"] == head
    assert leftovers(project) == [], "an unedited project updates without conflicts"
    assert git(project, "ls-files", "--unmerged") == ""
    git_commit_all(project, f"Update from {oldest.tag} to HEAD")
    run_project_tests(project_env(project), project)


USER_MODEL_EDIT = "    # The owner's note: ids are never reused.\n"


@pytest.mark.full
@check("update across a release that moves files keeps the owner's edits", ANSWERS)
def test_update_across_a_moving_release_keeps_owner_edits(
    release_clone: tuple[Path, list[Release]], tmp_path: Path
) -> None:
    """The newest `_migrations` entry, from the oldest release: edits follow the moves.

    When that release is not tagged yet, HEAD is tagged with it in a clone of
    our own, as the release will be.
    """
    shared, releases = release_clone
    config = yaml.safe_load((shared / "copier.yml").read_text())
    migrations = config.get("_migrations") or []
    if not releases or not migrations:
        pytest.skip("needs a recorded release and a `_migrations` entry after it")
    target = max((str(entry["version"]) for entry in migrations), key=Version)
    repo = tmp_path / "template"
    git(shared, "clone", "--quiet", "--no-hardlinks", str(shared), str(repo))
    if tag_commit(repo, target) is None:
        git(repo, "tag", target, "HEAD")
    project = generate(repo, tmp_path / "project", releases[0].tag, ANSWERS)
    models = project / "src" / PACKAGE / "models.py"
    text = models.read_text()
    anchor = "    id: Mapped[int] = mapped_column(primary_key=True)\n"
    assert anchor in text, "the oldest release's models.py has the line the owner edits after"
    models.write_text(text.replace(anchor, anchor + USER_MODEL_EDIT))
    git_commit_all(project, "The owner's note in models.py")

    update(project, f"--vcs-ref={target}", trust=True)

    assert leftovers(project) == [], "an edit on lines the release kept merges cleanly"
    assert git(project, "ls-files", "--unmerged") == ""
    package = project / "src" / PACKAGE
    assert not (package / "models.py").exists() and not (package / "api.py").exists()
    assert USER_MODEL_EDIT in (package / "models" / "user.py").read_text()
    assert (package / "users.py").is_file() and (project / "tests" / "test_users.py").is_file()
