"""Calling the template's `_migrations` hooks (hooks/) directly, on small temp projects."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from harness.git import REPO_ROOT, git_commit_all

HOOKS_DIR = REPO_ROOT / "hooks"


def load_hook(name: str) -> ModuleType:
    """Import a hook script by path: hooks/ is a folder of scripts, not a package."""
    spec = importlib.util.spec_from_file_location(f"hook_{name}", HOOKS_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None, f"hooks/{name}.py not found"
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


def write_file(path: Path, text: str) -> Path:
    """Write `text` to `path`, making its folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def committed_repo(root: Path, files: dict[str, str], gitignore: str = "") -> Path:
    """A committed git repository holding `files` (a user's project, in small)."""
    root.mkdir(parents=True, exist_ok=True)
    if gitignore:
        write_file(root / ".gitignore", gitignore)
    for name, text in files.items():
        write_file(root / name, text)
    git_commit_all(root, "project")
    return root


def numbered_lines(n: int, **changes: str) -> str:
    """`n` numbered lines, with `l<N>=text` replacing line N."""
    return "".join(changes.get(f"l{i}", f"line {i}") + "\n" for i in range(1, n + 1))
