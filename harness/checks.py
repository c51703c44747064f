"""Naming what a test checks, for the coverage summary printed after a run."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def check(name: str, answers: Mapping[str, Any] | None = None) -> Callable[[F], F]:
    """Name what a test checks, for the coverage summary printed after the run.

    The answer set comes from the test's `answers` parameter, or from
    `answers` here for a test that is not parametrized by answer set.
    """

    def mark(func: F) -> F:
        func.template_check = name  # type: ignore[attr-defined]
        func.template_answers = dict(answers) if answers is not None else None  # type: ignore[attr-defined]
        return func

    return mark
