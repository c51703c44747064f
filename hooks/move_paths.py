#!/usr/bin/env python3
"""Carry the user's files along when a template release moves or renames them.

Copier cannot follow a rename on ``copier update``: it deletes the old path
(the user's edits with it) and writes the new one fresh. A ``_migrations``
entry runs this script, in the project's root, at both stages of the update
that crosses the release which moved the files:

``--stage before``
    Move each ``OLD`` that exists to ``NEW`` (tracked files in git's index as
    well, as ``git mv`` does), so copier merges the user's version into
    ``NEW`` instead of deleting it. Refuses to overwrite an existing ``NEW``.
``--stage after``
    Copier merged the moved file against an empty base (it sees an added
    file, not a renamed one), which conflicts on every difference. Re-merge
    each such file three ways against its real base, ``OLD`` rendered from the
    template version the project came from, leaving conflict markers only
    where the user and the template changed the same lines.

Usage in ``copier.yml`` (paths relative to the project root)::

    _migrations:
      - version: v1.2.0
        when: "{{ true }}"
        command:
          - "{{ _copier_python }}"
          - "{{ _copier_conf.src_path }}/hooks/move_paths.py"
          - --stage
          - "{{ _stage }}"
          - --answers-file
          - "{{ _copier_conf.answers_file }}"
          - old/path.py
          - new/path.py

Paths may name answers as ``{answer}`` (for example ``src/{package_name}/api.py``):
copier renders a migration's command before it has loaded the answers, so
``{{ package_name }}`` would come out empty there. The script fills them in
from the project's answers file.

Runs under copier's own interpreter: standard library plus copier and its
``yaml`` (imported only to read answers and to render the old version).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

#: Conflict labels copier itself writes, so tools that look for copier's
#: markers find ours too.
MERGE_LABELS = ("before updating", "last update", "after updating")

#: Returns a path's content in the old template version, or None.
BaseLookup = Callable[[PurePosixPath], bytes | None]


class MoveError(Exception):
    """A move that must not happen; the message tells the user what to do."""


@dataclass(frozen=True)
class Move:
    """One ``OLD -> NEW`` pair, both relative to the project root."""

    old: PurePosixPath
    new: PurePosixPath

    def __str__(self) -> str:
        return f"{self.old} -> {self.new}"


def _log(message: str) -> None:
    """Report what happened: copier shows a migration's output to the user."""
    print(f"move_paths: {message}", flush=True)


def _project_path(raw: str) -> PurePosixPath:
    """A relative path that stays inside the project (migrations are run by
    copier with the user's rights, so never touch anything outside)."""
    path = PurePosixPath(raw)
    if not raw or path.is_absolute() or ".." in path.parts or path == PurePosixPath("."):
        raise MoveError(f"{raw!r} is not a path inside the project (relative, without '..')")
    return path


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def fill_answers(args: Sequence[str], answers_path: Path) -> list[str]:
    """Replace each ``{answer}`` in the paths with that answer from the answers file."""
    if not any(_PLACEHOLDER.search(arg) for arg in args):
        return list(args)
    import yaml  # a dependency of copier

    try:
        answers = yaml.safe_load(answers_path.read_text()) or {}
    except OSError as error:
        raise MoveError(f"cannot read the answers file {answers_path}: {error}") from error

    def answer(match: re.Match[str]) -> str:
        if match[1] not in answers:
            raise MoveError(f"{{{match[1]}}} is not an answer in {answers_path.name}")
        return str(answers[match[1]])

    return [_PLACEHOLDER.sub(answer, arg) for arg in args]


def parse_moves(args: Sequence[str]) -> list[Move]:
    """Pair up ``OLD NEW OLD NEW ...`` arguments."""
    if not args or len(args) % 2:
        raise MoveError(f"expected OLD NEW pairs, got {len(args)} path(s): {' '.join(args)}")
    moves = [
        Move(_project_path(old), _project_path(new))
        for old, new in zip(args[::2], args[1::2], strict=True)
    ]
    for move in moves:
        if move.old == move.new or move.old in move.new.parents or move.new in move.old.parents:
            raise MoveError(f"cannot move {move}: one path contains the other")
    return moves


# --------------------------------------------------------------------------
# git
# --------------------------------------------------------------------------


def _git(
    root: Path, *args: str, input: bytes | None = None, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    """Run git in the project; failures carry git's own message."""
    proc = subprocess.run(["git", *args], cwd=root, input=input, capture_output=True, check=False)
    if check and proc.returncode != 0:
        raise MoveError(
            f"git {' '.join(args)} failed: {proc.stderr.decode(errors='replace').strip()}"
        )
    return proc


def _in_git_worktree(root: Path) -> bool:
    """Whether git manages the project (unit tests also run without git)."""
    proc = _git(root, "rev-parse", "--is-inside-work-tree", check=False)
    return proc.returncode == 0 and proc.stdout.strip() == b"true"


def _is_tracked(root: Path, path: PurePosixPath) -> bool:
    """Whether git's index holds the path (or, for a directory, anything in it)."""
    return bool(_git(root, "ls-files", "--", str(path)).stdout.strip())


# --------------------------------------------------------------------------
# before: move
# --------------------------------------------------------------------------


def move_paths(root: Path, moves: Sequence[Move]) -> list[Move]:
    """Move each existing ``OLD`` to ``NEW``; return the moves made.

    Every pair is checked before anything moves, so a refused move leaves the
    project untouched. A missing ``OLD`` is skipped: the user deleted it, or a
    previous run already moved it.
    """
    root = root.resolve()
    use_git = _in_git_worktree(root)
    todo: list[Move] = []
    targets: set[PurePosixPath] = set()
    for move in moves:
        old, new = root / move.old, root / move.new
        if not old.exists() and not old.is_symlink():
            _log(f"nothing at {move.old}, skipped")
            continue
        if new.exists() or new.is_symlink() or move.new in targets:
            raise MoveError(
                f"refusing to move {move}: {move.new} already exists. Move or merge it "
                f"by hand (keep your edits), delete {move.old}, commit, and update again."
            )
        if use_git and _is_tracked(root, move.new):
            raise MoveError(
                f"refusing to move {move}: git still tracks {move.new} (deleted but not committed); "
                "commit or restore it first."
            )
        targets.add(move.new)
        todo.append(move)

    for move in todo:
        new = root / move.new
        new.parent.mkdir(parents=True, exist_ok=True)
        if use_git and _is_tracked(root, move.old):
            # The index must follow too: copier diffs the index, not the files.
            _git(root, "mv", "--", str(move.old), str(move.new))
        else:
            shutil.move(root / move.old, new)
        _remove_empty_parents(root, root / move.old)
        _log(f"moved {move}")
    return todo


def _remove_empty_parents(root: Path, path: Path) -> None:
    """Drop directories a move left empty (git does not track directories)."""
    for parent in path.parents:
        if parent == root or root not in parent.parents:
            return
        try:
            parent.rmdir()
        except OSError:
            return


# --------------------------------------------------------------------------
# after: re-merge against the real base
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Stage:
    mode: str
    sha: str


def _unmerged(root: Path, path: PurePosixPath) -> dict[int, _Stage]:
    """The conflict stages git's index holds for a path (empty when merged)."""
    stages: dict[int, _Stage] = {}
    for line in _git(root, "ls-files", "--unmerged", "-z", "--", str(path)).stdout.split(b"\0"):
        if not line:
            continue
        info, _, _name = line.decode().partition("\t")
        mode, sha, stage = info.split()
        stages[int(stage)] = _Stage(mode, sha)
    return stages


def _blob(root: Path, sha: str) -> bytes:
    return _git(root, "cat-file", "blob", sha).stdout


def _index_path(root: Path, path: PurePosixPath) -> str:
    """The path as git's index names it (relative to the repository's top)."""
    prefix = _git(root, "rev-parse", "--show-prefix").stdout.decode().strip()
    return f"{prefix}{path}"


def merge_three_way(ours: bytes, base: bytes, theirs: bytes) -> tuple[bytes, int]:
    """``git merge-file`` on three versions; return the result and its conflict count."""
    with tempfile.TemporaryDirectory(prefix="move_paths.") as tmp:
        files = []
        for name, data in (("ours", ours), ("base", base), ("theirs", theirs)):
            file = Path(tmp, name)
            file.write_bytes(data)
            files.append(str(file))
        labels = [arg for label in MERGE_LABELS for arg in ("-L", label)]
        proc = subprocess.run(
            ["git", "merge-file", "--stdout", *labels, *files], capture_output=True, check=False
        )
    if proc.returncode < 0 or proc.returncode > 127:
        raise MoveError(f"git merge-file failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout, proc.returncode


def remerge_moved(root: Path, moves: Sequence[Move], base_of: BaseLookup) -> list[Move]:
    """Re-merge each moved file copier left conflicted; return those re-merged.

    Copier records a conflict as index stages 1 (its base: an empty file),
    2 (the user's version) and 3 (the new template's). With the real base the
    merge is clean unless both sides changed the same lines; the index then
    holds the user's version (as after ``git mv``) and the file the result.
    """
    root = root.resolve()
    done: list[Move] = []
    for move in moves:
        stages = _unmerged(root, move.new)
        if 2 not in stages or 3 not in stages:
            continue  # copier merged it (or never saw it): nothing to redo
        base = base_of(move.old)
        if base is None:
            _log(
                f"{move.old} is not in the old template version; left {move.new} as copier merged it"
            )
            continue
        ours, theirs = _blob(root, stages[2].sha), _blob(root, stages[3].sha)
        merged, conflicts = merge_three_way(ours, base, theirs)
        target = root / move.new
        target.write_bytes(merged)
        name = _index_path(root, move.new)
        entries = [f"0 {'0' * 40}\t{name}"]  # drop every stage of the path
        if conflicts:
            base_sha = (
                _git(root, "hash-object", "-w", "--stdin", input=base).stdout.decode().strip()
            )
            entries += [
                f"{stages[2].mode} {base_sha} 1\t{name}",
                f"{stages[2].mode} {stages[2].sha} 2\t{name}",
                f"{stages[3].mode} {stages[3].sha} 3\t{name}",
            ]
            _log(f"re-merged {move.new} with {conflicts} conflict(s) left: resolve the markers")
        else:
            entries.append(f"{stages[2].mode} {stages[2].sha} 0\t{name}")
            _log(f"re-merged {move.new}: your edits and the template's changes, no conflicts")
        top = Path(_git(root, "rev-parse", "--show-toplevel").stdout.decode().strip())
        _git(top, "update-index", "--index-info", input=("\n".join(entries) + "\n").encode())
        done.append(move)
    return done


@contextmanager
def old_template_files(root: Path, answers_file: PurePosixPath) -> Iterator[BaseLookup]:
    """Look up files in the template version the project was last updated to.

    Renders that version (``_src_path`` and ``_commit`` from the answers file
    as committed, the update has rewritten the working copy) with the same
    answers, lazily: only when a moved file needs its base.
    """
    rendered: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="move_paths.old.") as tmp:

        def lookup(path: PurePosixPath) -> bytes | None:
            if not rendered:
                try:
                    rendered.append(_render_old_version(root, answers_file, Path(tmp) / "project"))
                except MoveError:
                    raise
                except Exception as error:  # copier's errors: no merge, markers stay
                    raise MoveError(
                        f"could not render the old template version ({type(error).__name__}: {error}); "
                        "the moved files keep copier's conflict markers: resolve them by hand"
                    ) from error
            file = rendered[0] / path
            return file.read_bytes() if file.is_file() else None

        yield lookup


def _render_old_version(root: Path, answers_file: PurePosixPath, dst: Path) -> Path:
    """Copy the old template version into ``dst`` with the committed answers."""
    import copier  # copier's interpreter runs this hook
    import yaml  # a dependency of copier

    shown = _git(root, "show", f"HEAD:./{answers_file}", check=False)
    if shown.returncode != 0:
        raise MoveError(
            f"{answers_file} is not committed: cannot tell which template version to compare with"
        )
    answers = yaml.safe_load(shown.stdout) or {}
    src, ref = answers.get("_src_path"), answers.get("_commit")
    if not src or not ref:
        raise MoveError(
            f"{answers_file} has no _src_path/_commit: cannot render the old template version"
        )
    data = {key: value for key, value in answers.items() if not str(key).startswith("_")}
    copier.run_copy(
        str(src),
        dst,
        data=data,
        vcs_ref=str(ref),
        defaults=True,
        overwrite=True,
        quiet=True,
        skip_tasks=True,
    )
    return dst


# --------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None, root: Path | None = None) -> int:
    """Run one stage; exit 1 with a message when a move is refused."""
    parser = argparse.ArgumentParser(
        prog="move_paths.py",
        description="Move files a template release renamed (copier _migrations hook).",
    )
    parser.add_argument(
        "--stage", choices=["before", "after"], default="before", help="copier's {{ _stage }}"
    )
    parser.add_argument(
        "--answers-file",
        default=".copier-answers.yml",
        help="the project's answers file (after stage), relative to the project root",
    )
    parser.add_argument(
        "paths", nargs="+", metavar="OLD NEW", help="pairs of paths relative to the project root"
    )
    args = parser.parse_args(argv)
    project = (root or Path.cwd()).resolve()
    try:
        answers_file = _project_path(args.answers_file)
        moves = parse_moves(fill_answers(args.paths, project / answers_file))
        if args.stage == "before":
            move_paths(project, moves)
        else:
            with old_template_files(project, answers_file) as base_of:
                remerge_moved(project, moves, base_of)
    except MoveError as error:
        print(f"move_paths: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
