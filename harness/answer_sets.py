"""Parametrizing a test over matrix answer sets, under the matrix's own ids.

A test parametrized here shares its renders and venvs with the matrix on the
same worker (conftest's scheduler groups by id).
"""

from __future__ import annotations

from typing import Any

import pytest

from harness.matrix import closed_answers_id, matrix_answers, template_questions

#: The defaults, as the matrix renders them.
DEFAULTS = matrix_answers(template_questions())
#: Every database and task queue.
STACKS = [
    {"database": database, "task_queue": queue}
    for database in template_questions()["database"]
    for queue in template_questions()["task_queue"]
]


def matrix_param(answers: dict[str, Any]) -> Any:
    """One answer set as a pytest parameter with the matrix's id."""
    return pytest.param(answers, id=closed_answers_id(answers, template_questions()))


def every_stack(**fixed: Any) -> pytest.MarkDecorator:
    """Parametrize `answers` over every stack, with `fixed` tooling answers."""
    return pytest.mark.parametrize(
        "answers",
        [matrix_param(matrix_answers(template_questions(), {**s, **fixed})) for s in STACKS],
    )


#: The default answer set alone, under the matrix's id for it.
default_answers = pytest.mark.parametrize("answers", [matrix_param(DEFAULTS)])
