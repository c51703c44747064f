"""Unit tests for the `_migrations` hooks in hooks/, called directly on temp dirs.

A hook runs on a user's project with their edits at stake and no second
chance, so each behaviour is pinned here without copier in the loop; the
update tests (test_update.py) then prove the hooks inside `copier update`.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path, PurePosixPath
from types import ModuleType

import pytest

from harness.commands import run
from harness.git import git, git_commit_all

HOOKS_DIR = Path(__file__).resolve().parents[1] / "hooks"

# Fast checks: they belong with the rendering checks of `bin/test -m render`.
pytestmark = pytest.mark.render


def _load_hook(name: str) -> ModuleType:
    """Import a hook script by path: hooks/ is a folder of scripts, not a package."""
    spec = importlib.util.spec_from_file_location(f"hook_{name}", HOOKS_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None, f"hooks/{name}.py not found"
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


mp = _load_hook("move_paths")
P = PurePosixPath


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _git_repo(root: Path, files: dict[str, str], gitignore: str = "") -> Path:
    """A committed git repository holding `files` (a user's project, in small)."""
    root.mkdir(parents=True, exist_ok=True)
    if gitignore:
        _write(root / ".gitignore", gitignore)
    for name, text in files.items():
        _write(root / name, text)
    git_commit_all(root, "project")
    return root


def _lines(n: int, **changes: str) -> str:
    """Ten numbered lines, with `l<N>=text` replacing line N."""
    return "".join(changes.get(f"l{i}", f"line {i}") + "\n" for i in range(1, n + 1))


# --------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "expected OLD NEW pairs"),
        (["a.py"], "expected OLD NEW pairs"),
        (["a.py", "b.py", "c.py"], "expected OLD NEW pairs"),
        (["../outside.py", "b.py"], "not a path inside the project"),
        (["a.py", "/etc/passwd"], "not a path inside the project"),
        (["a.py", "."], "not a path inside the project"),
        (["a.py", "a.py"], "one path contains the other"),
        (["pkg", "pkg/sub"], "one path contains the other"),
    ],
)
def test_bad_arguments_are_refused(args: list[str], message: str) -> None:
    with pytest.raises(mp.MoveError, match=message):
        mp.parse_moves(args)


def test_pairs_are_parsed_in_order() -> None:
    moves = mp.parse_moves(["a.py", "src/b.py", "docs", "doc"])
    assert moves == [mp.Move(P("a.py"), P("src/b.py")), mp.Move(P("docs"), P("doc"))]


def test_answers_in_paths_come_from_the_answers_file(tmp_path: Path) -> None:
    answers = _write(tmp_path / ".copier-answers.yml", "_commit: v1\npackage_name: shop\n")

    filled = mp.fill_answers(["src/{package_name}/api.py", "plain.py"], answers)

    assert filled == ["src/shop/api.py", "plain.py"]
    with pytest.raises(mp.MoveError, match="not an answer"):
        mp.fill_answers(["src/{nope}/api.py"], answers)


# --------------------------------------------------------------------------
# before: moving
# --------------------------------------------------------------------------


def test_moves_a_file_creating_parents_and_removing_empty_ones(tmp_path: Path) -> None:
    _write(tmp_path / "old" / "deep" / "mod.py", "mine\n")

    done = mp.move_paths(tmp_path, mp.parse_moves(["old/deep/mod.py", "new/place/mod.py"]))

    assert done == [mp.Move(P("old/deep/mod.py"), P("new/place/mod.py"))]
    assert (tmp_path / "new" / "place" / "mod.py").read_text() == "mine\n"
    assert not (tmp_path / "old").exists(), "directories the move emptied are removed"


def test_moves_a_directory_with_everything_in_it(tmp_path: Path) -> None:
    _write(tmp_path / "conf" / "a.ini", "a\n")
    _write(tmp_path / "conf" / "sub" / "b.ini", "b\n")

    mp.move_paths(tmp_path, mp.parse_moves(["conf", "etc/conf"]))

    assert (tmp_path / "etc" / "conf" / "a.ini").read_text() == "a\n"
    assert (tmp_path / "etc" / "conf" / "sub" / "b.ini").read_text() == "b\n"
    assert not (tmp_path / "conf").exists()


def test_missing_source_is_skipped_so_a_second_run_does_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path / "a.py", "mine\n")
    moves = mp.parse_moves(["a.py", "b.py", "never-there.py", "c.py"])

    assert mp.move_paths(tmp_path, moves) == [moves[0]]
    assert mp.move_paths(tmp_path, moves) == []

    assert (tmp_path / "b.py").read_text() == "mine\n"
    assert not (tmp_path / "c.py").exists()
    out = capsys.readouterr().out
    assert "moved a.py -> b.py" in out
    assert "nothing at never-there.py, skipped" in out


def test_refuses_to_overwrite_and_then_moves_nothing(tmp_path: Path) -> None:
    _write(tmp_path / "first.py", "first\n")
    _write(tmp_path / "second.py", "second\n")
    _write(tmp_path / "taken.py", "the user's own file\n")

    with pytest.raises(
        mp.MoveError, match=r"refusing to move second\.py -> taken\.py: taken\.py already exists"
    ):
        mp.move_paths(tmp_path, mp.parse_moves(["first.py", "moved.py", "second.py", "taken.py"]))

    assert (tmp_path / "first.py").read_text() == "first\n", "no move happens when any is refused"
    assert not (tmp_path / "moved.py").exists()
    assert (tmp_path / "taken.py").read_text() == "the user's own file\n"


def test_refuses_two_files_onto_one_path(tmp_path: Path) -> None:
    _write(tmp_path / "a.py", "a\n")
    _write(tmp_path / "b.py", "b\n")

    with pytest.raises(mp.MoveError, match="already exists"):
        mp.move_paths(tmp_path, mp.parse_moves(["a.py", "c.py", "b.py", "c.py"]))

    assert (tmp_path / "a.py").exists() and (tmp_path / "b.py").exists()


def test_tracked_file_moves_in_the_index_too(tmp_path: Path) -> None:
    """Copier diffs the index: a move only on disk would lose the user's edits."""
    project = _git_repo(tmp_path / "p", {"src/app/old.py": "edited by the user\n"})

    mp.move_paths(project, mp.parse_moves(["src/app/old.py", "src/app/web/new.py"]))

    assert git(project, "ls-files").split() == ["src/app/web/new.py"]
    status = git(project, "status", "--porcelain").splitlines()
    assert status == ["R  src/app/old.py -> src/app/web/new.py"]


def test_ignored_file_moves_without_touching_the_index(tmp_path: Path) -> None:
    """An untracked, ignored file such as `.env` just moves on disk."""
    project = _git_repo(tmp_path / "p", {"README.md": "hi\n"}, gitignore=".env\n")
    _write(project / ".env", "SECRET_KEY=abc\n")

    mp.move_paths(project, mp.parse_moves([".env", "config/.env"]))

    assert (project / "config" / ".env").read_text() == "SECRET_KEY=abc\n"
    assert git(project, "status", "--porcelain", "--untracked-files=all") == ""


def test_directory_with_tracked_and_ignored_files_moves_whole(tmp_path: Path) -> None:
    project = _git_repo(tmp_path / "p", {"conf/app.ini": "x=1\n"}, gitignore="*.local\n")
    _write(project / "conf" / "dev.local", "mine\n")

    mp.move_paths(project, mp.parse_moves(["conf", "settings/conf"]))

    assert (project / "settings" / "conf" / "app.ini").read_text() == "x=1\n"
    assert (project / "settings" / "conf" / "dev.local").read_text() == "mine\n"
    assert git(project, "ls-files").split() == [".gitignore", "settings/conf/app.ini"]


def test_refuses_a_target_git_still_tracks(tmp_path: Path) -> None:
    project = _git_repo(tmp_path / "p", {"a.py": "a\n", "b.py": "b\n"})
    (project / "b.py").unlink()  # deleted on disk, not committed

    with pytest.raises(mp.MoveError, match=r"git still tracks b\.py"):
        mp.move_paths(project, mp.parse_moves(["a.py", "b.py"]))


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
    project = _git_repo(tmp_path / "p", {"old.txt": user_text})
    mp.move_paths(project, mp.parse_moves(["old.txt", "new.txt"]))
    _copier_conflict(project, "new.txt", theirs)
    return project


def test_remerge_combines_user_and_template_edits(tmp_path: Path) -> None:
    base = _lines(10)
    user = _lines(10, l2="line 2 edited by the user")
    template = _lines(10, l9="line 9 changed by the template")
    project = _moved_project(tmp_path, user, template)
    asked: list[PurePosixPath] = []

    def base_of(path: PurePosixPath) -> bytes:
        asked.append(path)
        return base.encode()

    done = mp.remerge_moved(project, mp.parse_moves(["old.txt", "new.txt"]), base_of)

    assert done == [mp.Move(P("old.txt"), P("new.txt"))]
    assert asked == [P("old.txt")], "the base is the old path in the old template version"
    assert (project / "new.txt").read_text() == _lines(
        10, l2="line 2 edited by the user", l9="line 9 changed by the template"
    )
    assert git(project, "ls-files", "--unmerged") == ""
    # The index keeps the user's version under the new name, as `git mv` left it.
    assert git(project, "show", ":new.txt") == user


def test_remerge_leaves_markers_where_both_changed_the_same_lines(tmp_path: Path) -> None:
    base = _lines(10)
    user = _lines(10, l5="line 5 the user's way")
    template = _lines(10, l5="line 5 the template's way")
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
    project = _git_repo(tmp_path / "p", {"old.txt": "x\n"})
    mp.move_paths(project, mp.parse_moves(["old.txt", "new.txt"]))

    def base_of(path: PurePosixPath) -> bytes:
        raise AssertionError("no base needed for a file copier merged")

    assert mp.remerge_moved(project, mp.parse_moves(["old.txt", "new.txt"]), base_of) == []
    assert (project / "new.txt").read_text() == "x\n"


def test_remerge_without_a_base_keeps_copiers_result(tmp_path: Path) -> None:
    project = _moved_project(tmp_path, _lines(3), _lines(3, l1="changed"))
    before = (project / "new.txt").read_text()

    assert (
        mp.remerge_moved(project, mp.parse_moves(["old.txt", "new.txt"]), lambda _path: None) == []
    )
    assert (project / "new.txt").read_text() == before


def test_old_template_files_renders_the_committed_version(tmp_path: Path) -> None:
    """The after stage's base: the old version rendered with the committed answers."""
    import copier

    template = _git_repo(
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
    _git_repo(project, {})
    # The update has already rewritten the answers file: the committed one counts.
    (project / ".copier-answers.yml").write_text("_src_path: /nowhere\n_commit: v9\nname: bob\n")

    with mp.old_template_files(project, P(".copier-answers.yml")) as base_of:
        assert base_of(P("greeting.txt")) == b"hello ada\n"
        assert base_of(P("no/such/file.txt")) is None


def test_old_template_files_needs_a_committed_answers_file(tmp_path: Path) -> None:
    project = _git_repo(tmp_path / "p", {"README.md": "hi\n"})

    with (
        mp.old_template_files(project, P(".copier-answers.yml")) as base_of,
        pytest.raises(mp.MoveError, match="not committed"),
    ):
        base_of(P("a.txt"))


# --------------------------------------------------------------------------
# The script as copier runs it
# --------------------------------------------------------------------------


def _script(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, HOOKS_DIR / "move_paths.py", *args], cwd=cwd, must_succeed=False)


def test_script_moves_and_reports(tmp_path: Path) -> None:
    _write(tmp_path / "a.py", "mine\n")

    proc = _script(tmp_path, "--stage", "before", "a.py", "pkg/a.py")

    assert proc.returncode == 0, proc.stderr
    assert "moved a.py -> pkg/a.py" in proc.stdout
    assert (tmp_path / "pkg" / "a.py").read_text() == "mine\n"


def test_script_refusal_exits_1_with_a_message(tmp_path: Path) -> None:
    _write(tmp_path / "a.py", "a\n")
    _write(tmp_path / "b.py", "b\n")

    proc = _script(tmp_path, "--stage", "before", "a.py", "b.py")

    assert proc.returncode == 1
    assert "move_paths: error: refusing to move a.py -> b.py: b.py already exists" in proc.stderr
    assert (tmp_path / "a.py").read_text() == "a\n"


def test_script_usage_errors_exit_2(tmp_path: Path) -> None:
    assert _script(tmp_path, "--stage", "during", "a", "b").returncode == 2
    assert _script(tmp_path).returncode == 2
    assert _script(tmp_path, "lonely.py").returncode == 1
