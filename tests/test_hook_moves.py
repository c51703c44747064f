"""Unit tests for hooks/move_paths.py moving files before an update.

A hook runs on a user's project with their edits at stake and no second
chance, so each behaviour is pinned here without copier in the loop; the
update tests (test_update_synthetic.py) then prove the hooks inside `copier update`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest

from harness.commands import run
from harness.git import git
from harness.hooks import HOOKS_DIR, committed_repo, load_hook, write_file

# Fast checks: they belong with the rendering checks of `bin/test -m render`.
pytestmark = pytest.mark.render

mp = load_hook("move_paths")
P = PurePosixPath


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
    answers = write_file(tmp_path / ".copier-answers.yml", "_commit: v1\npackage_name: shop\n")

    filled = mp.fill_answers(["src/{package_name}/api.py", "plain.py"], answers)

    assert filled == ["src/shop/api.py", "plain.py"]
    with pytest.raises(mp.MoveError, match="not an answer"):
        mp.fill_answers(["src/{nope}/api.py"], answers)


# --------------------------------------------------------------------------
# before: moving
# --------------------------------------------------------------------------


def test_moves_a_file_creating_parents_and_removing_empty_ones(tmp_path: Path) -> None:
    write_file(tmp_path / "old" / "deep" / "mod.py", "mine\n")

    done = mp.move_paths(tmp_path, mp.parse_moves(["old/deep/mod.py", "new/place/mod.py"]))

    assert done == [mp.Move(P("old/deep/mod.py"), P("new/place/mod.py"))]
    assert (tmp_path / "new" / "place" / "mod.py").read_text() == "mine\n"
    assert not (tmp_path / "old").exists(), "directories the move emptied are removed"


def test_moves_a_directory_with_everything_in_it(tmp_path: Path) -> None:
    write_file(tmp_path / "conf" / "a.ini", "a\n")
    write_file(tmp_path / "conf" / "sub" / "b.ini", "b\n")

    mp.move_paths(tmp_path, mp.parse_moves(["conf", "etc/conf"]))

    assert (tmp_path / "etc" / "conf" / "a.ini").read_text() == "a\n"
    assert (tmp_path / "etc" / "conf" / "sub" / "b.ini").read_text() == "b\n"
    assert not (tmp_path / "conf").exists()


def test_missing_source_is_skipped_so_a_second_run_does_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_file(tmp_path / "a.py", "mine\n")
    moves = mp.parse_moves(["a.py", "b.py", "never-there.py", "c.py"])

    assert mp.move_paths(tmp_path, moves) == [moves[0]]
    assert mp.move_paths(tmp_path, moves) == []

    assert (tmp_path / "b.py").read_text() == "mine\n"
    assert not (tmp_path / "c.py").exists()
    out = capsys.readouterr().out
    assert "moved a.py -> b.py" in out
    assert "nothing at never-there.py, skipped" in out


def test_refuses_to_overwrite_and_then_moves_nothing(tmp_path: Path) -> None:
    write_file(tmp_path / "first.py", "first\n")
    write_file(tmp_path / "second.py", "second\n")
    write_file(tmp_path / "taken.py", "the user's own file\n")

    with pytest.raises(
        mp.MoveError, match=r"refusing to move second\.py -> taken\.py: taken\.py already exists"
    ):
        mp.move_paths(tmp_path, mp.parse_moves(["first.py", "moved.py", "second.py", "taken.py"]))

    assert (tmp_path / "first.py").read_text() == "first\n", "no move happens when any is refused"
    assert not (tmp_path / "moved.py").exists()
    assert (tmp_path / "taken.py").read_text() == "the user's own file\n"


def test_refuses_two_files_onto_one_path(tmp_path: Path) -> None:
    write_file(tmp_path / "a.py", "a\n")
    write_file(tmp_path / "b.py", "b\n")

    with pytest.raises(mp.MoveError, match="already exists"):
        mp.move_paths(tmp_path, mp.parse_moves(["a.py", "c.py", "b.py", "c.py"]))

    assert (tmp_path / "a.py").exists() and (tmp_path / "b.py").exists()


def test_tracked_file_moves_in_the_index_too(tmp_path: Path) -> None:
    """Copier diffs the index: a move only on disk would lose the user's edits."""
    project = committed_repo(tmp_path / "p", {"src/app/old.py": "edited by the user\n"})

    mp.move_paths(project, mp.parse_moves(["src/app/old.py", "src/app/web/new.py"]))

    assert git(project, "ls-files").split() == ["src/app/web/new.py"]
    status = git(project, "status", "--porcelain").splitlines()
    assert status == ["R  src/app/old.py -> src/app/web/new.py"]


def test_ignored_file_moves_without_touching_the_index(tmp_path: Path) -> None:
    """An untracked, ignored file such as `.env` just moves on disk."""
    project = committed_repo(tmp_path / "p", {"README.md": "hi\n"}, gitignore=".env\n")
    write_file(project / ".env", "SECRET_KEY=abc\n")

    mp.move_paths(project, mp.parse_moves([".env", "config/.env"]))

    assert (project / "config" / ".env").read_text() == "SECRET_KEY=abc\n"
    assert git(project, "status", "--porcelain", "--untracked-files=all") == ""


def test_directory_with_tracked_and_ignored_files_moves_whole(tmp_path: Path) -> None:
    project = committed_repo(tmp_path / "p", {"conf/app.ini": "x=1\n"}, gitignore="*.local\n")
    write_file(project / "conf" / "dev.local", "mine\n")

    mp.move_paths(project, mp.parse_moves(["conf", "settings/conf"]))

    assert (project / "settings" / "conf" / "app.ini").read_text() == "x=1\n"
    assert (project / "settings" / "conf" / "dev.local").read_text() == "mine\n"
    assert git(project, "ls-files").split() == [".gitignore", "settings/conf/app.ini"]


def test_refuses_a_target_git_still_tracks(tmp_path: Path) -> None:
    project = committed_repo(tmp_path / "p", {"a.py": "a\n", "b.py": "b\n"})
    (project / "b.py").unlink()  # deleted on disk, not committed

    with pytest.raises(mp.MoveError, match=r"git still tracks b\.py"):
        mp.move_paths(project, mp.parse_moves(["a.py", "b.py"]))


# --------------------------------------------------------------------------
# The script as copier runs it
# --------------------------------------------------------------------------


def _script(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, HOOKS_DIR / "move_paths.py", *args], cwd=cwd, must_succeed=False)


def test_script_moves_and_reports(tmp_path: Path) -> None:
    write_file(tmp_path / "a.py", "mine\n")

    proc = _script(tmp_path, "--stage", "before", "a.py", "pkg/a.py")

    assert proc.returncode == 0, proc.stderr
    assert "moved a.py -> pkg/a.py" in proc.stdout
    assert (tmp_path / "pkg" / "a.py").read_text() == "mine\n"


def test_script_refusal_exits_1_with_a_message(tmp_path: Path) -> None:
    write_file(tmp_path / "a.py", "a\n")
    write_file(tmp_path / "b.py", "b\n")

    proc = _script(tmp_path, "--stage", "before", "a.py", "b.py")

    assert proc.returncode == 1
    assert "move_paths: error: refusing to move a.py -> b.py: b.py already exists" in proc.stderr
    assert (tmp_path / "a.py").read_text() == "a\n"


def test_script_usage_errors_exit_2(tmp_path: Path) -> None:
    assert _script(tmp_path, "--stage", "during", "a", "b").returncode == 2
    assert _script(tmp_path).returncode == 2
    assert _script(tmp_path, "lonely.py").returncode == 1
