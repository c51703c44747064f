"""Git for the suite: a fixed identity, committing a rendered project, cloning the template."""

from __future__ import annotations

from pathlib import Path

from harness.commands import run

#: The template repository (this harness lives at its root).
REPO_ROOT = Path(__file__).resolve().parent.parent

#: Fixed identity for commits the suite makes (no reliance on global git config).
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Template Tests",
    "GIT_AUTHOR_EMAIL": "template-tests@example.com",
    "GIT_COMMITTER_NAME": "Template Tests",
    "GIT_COMMITTER_EMAIL": "template-tests@example.com",
}


def git_commit_all(project: Path, message: str) -> None:
    """Make `project` a git repository with everything committed (tools like
    pre-commit and `copier update` expect one)."""
    if not (project / ".git").exists():
        run(["git", "init", "--quiet", "--initial-branch=main"], cwd=project)
    run(["git", "add", "--all"], cwd=project, env=GIT_IDENTITY)
    run(
        ["git", "commit", "--quiet", "--no-verify", "--allow-empty", "-m", message],
        cwd=project,
        env=GIT_IDENTITY,
    )


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` with the suite's identity; return its output."""
    return run(["git", *args], cwd=repo, env=GIT_IDENTITY).stdout


def clone_template(dst: Path, source: Path = REPO_ROOT) -> Path:
    """A clean clone of the committed template at `dst` (uncommitted edits are not rendered)."""
    run(["git", "clone", "--quiet", "--no-hardlinks", str(source), str(dst)], cwd=source)
    return dst.resolve()


def assert_git_clean(project: Path, tool: str) -> None:
    """Whatever a tool writes (SQLite files, caches) must be ignored by git, or the
    owner's first `git add -A` commits it."""
    status = run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=project).stdout
    assert not status, f"{tool} changed or left files git does not ignore:\n{status}"
