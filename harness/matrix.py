"""The answer matrix: which answer sets the suite renders, and their test ids."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from harness.commands import run
from harness.git import REPO_ROOT
from harness.rendering import Answers

#: Up to this many combinations of closed answers, the matrix renders them all;
#: beyond it, a pairwise cover (every pair of answers to two questions, together
#: in at least one project) keeps the suite's run time in bounds.
MAX_FULL_MATRIX = 48


def committed_copier_config() -> dict[str, Any]:
    """copier.yml as committed at HEAD: the template the suite renders (a clone)."""
    text = run(["git", "show", "HEAD:copier.yml"], cwd=REPO_ROOT).stdout
    config = yaml.safe_load(text)
    assert isinstance(config, dict), "copier.yml is not a mapping"
    return config


@functools.cache
def template_questions() -> dict[str, list[Any]]:
    """The committed template's closed questions (`closed_questions` of copier.yml at HEAD)."""
    return closed_questions(committed_copier_config())


def closed_questions(config: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Each question with a closed set of answers: its choices, or yes/no for a bool.

    Read from copier.yml, so a new choice (or a new choice question) widens the
    matrix without touching the suite.
    """
    found: dict[str, list[Any]] = {}
    for name, spec in config.items():
        if name.startswith("_") or not isinstance(spec, dict):
            continue
        choices = spec.get("choices")
        if isinstance(choices, dict):
            values = list(choices.values())
        elif isinstance(choices, list):
            values = [c[-1] if isinstance(c, list) else c for c in choices]
        elif spec.get("type") == "bool":
            values = [True, False]
        else:
            continue
        # A choice may be spelled {value: ..., validator: ...}.
        values = [v["value"] if isinstance(v, dict) else v for v in values]
        # The default first: a matrix then starts with what most users get.
        values.sort(key=lambda value: value != spec.get("default"))
        found[name] = values
    return found


def pairwise_cover(questions: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Answer sets in which every pair of answers to two questions occurs at least once.

    Greedy and deterministic: each new row starts from the first pair still
    uncovered and picks, question by question, the answer covering most new pairs.
    """
    names = list(questions)

    def pairs(row: Mapping[str, Any]) -> set[tuple[Any, ...]]:
        """The (question, answer, question, answer) pairs a partial row covers."""
        chosen = [name for name in names if name in row]
        return {(a, row[a], b, row[b]) for i, a in enumerate(chosen) for b in chosen[i + 1 :]}

    uncovered: list[tuple[Any, ...]] = [
        (a, va, b, vb)
        for i, a in enumerate(names)
        for b in names[i + 1 :]
        for va in questions[a]
        for vb in questions[b]
    ]
    rows: list[dict[str, Any]] = []
    while uncovered:
        a, va, b, vb = uncovered[0]
        row: dict[str, Any] = {a: va, b: vb}
        for name in names:
            if name in row:
                continue

            still_open = set(uncovered)
            row[name] = max(
                questions[name],
                key=lambda value: len(pairs({**row, name: value}) & still_open),
            )
        rows.append({name: row[name] for name in names})
        covered = pairs(row)
        uncovered = [pair for pair in uncovered if pair not in covered]
    return rows


#: The project name of every matrix answer set: one package name, so answer sets
#: with the same dependencies share a venv whose mypy cache is warm for them.
MATRIX_PROJECT_NAME = "Demo App"


def matrix_answers(
    questions: Mapping[str, Sequence[Any]], closed: Mapping[str, Any] | None = None
) -> Answers:
    """A matrix answer set: `closed` over the defaults, in copier.yml's order.

    Tests elsewhere that build the same answer set get the same render and,
    through `closed_answers_id`, the same worker as the matrix.
    """
    chosen = {name: (closed or {}).get(name, values[0]) for name, values in questions.items()}
    return {"project_name": MATRIX_PROJECT_NAME, **chosen}


def answer_matrix(questions: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the closed answers, or a pairwise cover if there are too many.

    The first questions vary fastest: the stack questions come first in copier.yml,
    so neighbouring answer sets need different venvs, and parallel workers that
    start on neighbours do not both build (and type-check from cold) the same one.
    """
    names = list(questions)
    backwards = names[::-1]
    combos = [
        {name: dict(zip(backwards, values, strict=True))[name] for name in names}
        for values in itertools.product(*(questions[name] for name in backwards))
    ]
    return combos if len(combos) <= MAX_FULL_MATRIX else pairwise_cover(questions)


def closed_answers_id(answers: Mapping[str, Any], questions: Mapping[str, Sequence[Any]]) -> str:
    """A test id naming the closed answers in question order (bools as name / no_name).

    Modules that share it for the same answer set share a worker (conftest's
    scheduler), and so one render and one venv.
    """
    parts = []
    for name in questions:
        value = answers[name]
        parts.append(name if value is True else f"no_{name}" if value is False else str(value))
    return "-".join(parts)
