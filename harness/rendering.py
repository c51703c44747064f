"""Rendering the template and reading what a render recorded."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

Answers = dict[str, Any]
#: The `render` fixture's type: `render(answers, dst=None) -> Path`.
Render = Callable[..., Path]


def answers_slug(answers: Mapping[str, Any]) -> str:
    """A short, path-safe label for an answer set."""
    label = "-".join(str(v) for v in answers.values())
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:40] or "defaults"


def copy_template(clone: Path, dst: Path, answers: Answers, **kwargs: Any) -> None:
    """Render the template with copier's Python API, answering with defaults."""
    import copier

    options: dict[str, Any] = {
        "defaults": True,
        "vcs_ref": "HEAD",
        "unsafe": False,
        "quiet": True,
    }
    options.update(kwargs)
    copier.run_copy(src_path=str(clone), dst_path=dst, data=dict(answers), **options)


def recorded_answers(project: Path) -> dict[str, Any]:
    """The answers copier recorded in the project's `.copier-answers.yml`."""
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert isinstance(answers, dict), answers
    return answers


def package_name(project: Path) -> str:
    """The Python package a rendered project's code lives in."""
    return str(recorded_answers(project)["package_name"])
