"""Unit tests for hooks/move_paths.py after an update: re-merging moved files
against the real base, and rendering the committed template version."""

from __future__ import annotations

import subprocess
from pathlib import Path, PurePosixPath

import pytest

from harness.commands import run
from harness.git import git
from harness.hooks import committed_repo, load_hook, numbered_lines

# Fast checks: they belong with the rendering checks of `bin/test -m render`.
pytestmark = pytest.mark.render

mp = load_hook("move_paths")
P = PurePosixPath


# --------------------------------------------------------------------------
# after: re-merging against the real base
# --------------------------------------------------------------------------


def _copier_conflict(project: Path, path: str, theirs: str) -> None:
    """Leave `path` as copier does after merging it against an empty base.

    Stage 1 is copier's empty base, stage 2 the user's version (what the index
    held), stage 3 the new template's; the file holds the merge's markers.
    """

    def blob(text: str) -> str:
        return subprocess.run(
            ["git", "hash-object", "-w", "--stdin"],
            cwd=project,
            input=text,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    ours = git(project, "rev-parse", f":{path}").strip()
    entries = [
        f"0 {'0' * 40}\t{path}",
        f"100644 {blob('')} 1\t{path}",
        f"100644 {ours} 2\t{path}",
        f"100644 {blob(theirs)} 3\t{path}",
    ]
    subprocess.run(
        ["git", "update-index", "--index-info"],
        cwd=project,
        input="\n".join(entries) + "\n",
        text=True,
        check=True,
    )
    (project / path).write_text(
        "<<<<<<< before updating\nwhatever copier wrote\n>>>>>>> after updating\n"
    )


def _moved_project(tmp_path: Path, user_text: str, theirs: str) -> Path:
    """A project whose `old.txt` (with the user's edits) the before stage moved
    to `new.txt`, and which copier then left conflicted."""
    project = committed_repo(tmp_path / "p", {"old.txt": user_text})
    mp.move_paths(project, mp.parse_moves(["old.txt", "new.txt"]))
    _copier_conflict(project, "new.txt", theirs)
    return project


def test_remerge_combines_user_and_template_edits(tmp_path: Path) -> None:
    base = numbered_lines(10)
    user = numbered_lines(10, l2="line 2 edited by the user")
    template = numbered_lines(10, l9="line 9 changed by the template")
    project = _moved_project(tmp_path, user, template)
    asked: list[PurePosixPath] = []

    def base_of(path: PurePosixPath) -> bytes:
        asked.append(path)
        return base.encode()

    done = mp.remerge_moved(project, mp.parse_moves(["old.txt", "new.txt"]), base_of)

    assert done == [mp.Move(P("old.txt"), P("new.txt"))]
    assert asked == [P("old.txt")], "the base is the old path in the old template version"
    assert (project / "new.txt").read_text() == numbered_lines(
        10, l2="line 2 edited by the user", l9="line 9 changed by the template"
    )
    assert git(project, "ls-files", "--unmerged") == ""
    # The index keeps the user's version under the new name, as `git mv` left it.
    assert git(project, "show", ":new.txt") == user


def test_remerge_leaves_markers_where_both_changed_the_same_lines(tmp_path: Path) -> None:
    base = numbered_lines(10)
    user = numbered_lines(10, l5="line 5 the user's way")
    template = numbered_lines(10, l5="line 5 the template's way")
    project = _moved_project(tmp_path, user, template)

    mp.remerge_moved(project, mp.parse_moves(["old.txt", "new.txt"]), lambda _path: base.encode())

    text = (project / "new.txt").read_text()
    assert (
        "<<<<<<< before updating\nline 5 the user's way\n=======\nline 5 the template's way\n>>>>>>> after updating\n"
        in text
    )
    assert text.startswith("line 1\n") and text.endswith("line 10\n"), (
        "only the clashing line conflicts"
    )
    stages = {
        line.split()[2]: line.split()[1]
        for line in git(project, "ls-files", "--unmerged").splitlines()
    }
    assert sorted(stages) == ["1", "2", "3"]
    assert git(project, "cat-file", "blob", stages["1"]) == base, "stage 1 is now the real base"


def test_remerge_leaves_cleanly_merged_files_alone(tmp_path: Path) -> None:
    project = committed_repo(tmp_path / "p", {"old.txt": "x\n"})
    mp.move_paths(project, mp.parse_moves(["old.txt", "new.txt"]))

    def base_of(path: PurePosixPath) -> bytes:
        raise AssertionError("no base needed for a file copier merged")

    assert mp.remerge_moved(project, mp.parse_moves(["old.txt", "new.txt"]), base_of) == []
    assert (project / "new.txt").read_text() == "x\n"


def test_remerge_without_a_base_keeps_copiers_result(tmp_path: Path) -> None:
    project = _moved_project(tmp_path, numbered_lines(3), numbered_lines(3, l1="changed"))
    before = (project / "new.txt").read_text()

    assert (
        mp.remerge_moved(project, mp.parse_moves(["old.txt", "new.txt"]), lambda _path: None) == []
    )
    assert (project / "new.txt").read_text() == before


def test_old_template_files_renders_the_committed_version(tmp_path: Path) -> None:
    """The after stage's base: the old version rendered with the committed answers."""
    import copier

    template = committed_repo(
        tmp_path / "tpl",
        {
            "copier.yml": "_subdirectory: template\nname:\n  type: str\n  default: nobody\n",
            "template/{{_copier_conf.answers_file}}.jinja": "{{ _copier_answers|to_nice_yaml }}",
            "template/greeting.txt.jinja": "hello {{ name }}\n",
        },
    )
    run(["git", "tag", "v1.0.0"], cwd=template)
    project = tmp_path / "project"
    copier.run_copy(str(template), project, data={"name": "ada"}, defaults=True, quiet=True)
    committed_repo(project, {})
    # The update has already rewritten the answers file: the committed one counts.
    (project / ".copier-answers.yml").write_text("_src_path: /nowhere\n_commit: v9\nname: bob\n")

    with mp.old_template_files(project, P(".copier-answers.yml")) as base_of:
        assert base_of(P("greeting.txt")) == b"hello ada\n"
        assert base_of(P("no/such/file.txt")) is None


def test_old_template_files_needs_a_committed_answers_file(tmp_path: Path) -> None:
    project = committed_repo(tmp_path / "p", {"README.md": "hi\n"})

    with (
        mp.old_template_files(project, P(".copier-answers.yml")) as base_of,
        pytest.raises(mp.MoveError, match="not committed"),
    ):
        base_of(P("a.txt"))
