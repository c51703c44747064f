"""The working tree is clean of what a conflicted ``copier update`` leaves behind.

``copier update`` exits 0 even when it could not merge a change: it writes
inline conflict markers, or a ``.rej`` file beside the target. This test (and
the pre-commit hook that runs it) refuses both until they are resolved.
"""

import re
from collections.abc import Iterator
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SKIPPED_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", "instance"}
MARKER = re.compile(r"^(<{7}|>{7})( |$)", re.MULTILINE)


def project_files(root: Path = PROJECT_ROOT) -> Iterator[Path]:
    for path in root.iterdir():
        if path.is_dir():
            if path.name not in SKIPPED_DIRS and not path.name.endswith("_cache"):
                yield from project_files(path)
        elif path.is_file():
            yield path


def test_no_rejected_update_hunks() -> None:
    rejects = [
        str(p.relative_to(PROJECT_ROOT)) for p in project_files() if p.suffix == ".rej"
    ]
    assert rejects == [], "resolve and delete these copier update leftovers"


def test_no_conflict_markers() -> None:
    conflicted = []
    for path in project_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if MARKER.search(text):
            conflicted.append(str(path.relative_to(PROJECT_ROOT)))
    assert conflicted == [], "resolve the conflict markers in these files"
