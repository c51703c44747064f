"""The template's real releases: the release record (`releases.toml`) and its tags."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

from harness.commands import run
from harness.git import clone_template, git

#: Where the release record lives in the template repository, and its tags.
RELEASE_RECORD = "releases.toml"
RELEASE_TAG = re.compile(r"^v\d+\.\d+\.\d+$")


@dataclass(frozen=True)
class Release:
    tag: str
    commit: str

    @property
    def version(self) -> Version:
        return Version(self.tag)


def read_release_record(repo: Path) -> list[Release]:
    """The recorded releases, oldest first; a malformed record fails loudly."""
    path = repo / RELEASE_RECORD
    assert path.is_file(), f"{RELEASE_RECORD} is missing from the template repository"
    table = tomllib.loads(path.read_text()).get("releases", {})
    assert isinstance(table, dict), f"{RELEASE_RECORD}: [releases] must be a table of tag = commit"
    releases = []
    for tag, commit in table.items():
        assert RELEASE_TAG.match(tag), f"{RELEASE_RECORD}: {tag!r} is not a vX.Y.Z tag"
        assert isinstance(commit, str) and re.fullmatch(r"[0-9a-f]{40}", commit), (
            f"{RELEASE_RECORD}: {tag} must name a full 40-character commit hash, got {commit!r}"
        )
        releases.append(Release(tag, commit))
    return sorted(releases, key=lambda release: release.version)


def tag_commit(repo: Path, tag: str) -> str | None:
    proc = run(
        ["git", "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}^{{commit}}"],
        cwd=repo,
        must_succeed=False,
    )
    return proc.stdout.strip() or None


def missing_history_hint(repo: Path) -> str:
    """Why a recorded commit may be absent: CI checkouts are often shallow."""
    shallow = git(repo, "rev-parse", "--is-shallow-repository").strip() == "true"
    return (
        " (this clone is shallow: fetch the whole history, e.g. `git fetch --unshallow --tags`)"
        if shallow
        else ""
    )


def recreate_release_tags(repo: Path, releases: list[Release]) -> None:
    """Make the clone's tags exactly the recorded releases, whatever it had."""
    tags = git(repo, "tag", "--list").split()
    if tags:
        git(repo, "tag", "--delete", *tags)
    for release in releases:
        exists = run(
            ["git", "cat-file", "-e", f"{release.commit}^{{commit}}"], cwd=repo, must_succeed=False
        )
        assert exists.returncode == 0, (
            f"{RELEASE_RECORD}: {release.tag} names {release.commit}, not in this history{missing_history_hint(repo)}"
        )
        git(repo, "tag", release.tag, release.commit)


def clone_with_release_tags(template: Path, dst: Path) -> tuple[Path, list[Release]]:
    """A clone of `template` whose tags are exactly the recorded releases."""
    repo = clone_template(dst, source=template)
    releases = read_release_record(repo)
    recreate_release_tags(repo, releases)
    return repo, releases
