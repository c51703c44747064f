"""Bad answers are refused with a message that says why, and nothing is written.

Checked through copier's real command line (what users type) and through its
Python API (what other tools call), both with `--defaults`, where a failing
validator must stop the copy instead of prompting again.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from harness import servers
from harness.checks import check
from harness.commands import run
from harness.rendering import Render, copy_template, recorded_answers

GOOD = {"project_name": "My Shop"}

# (id, answers merged over GOOD, fragment the refusal message must contain)
BAD_ANSWERS: list[tuple[str, dict[str, Any], str]] = [
    ("name-empty", {"project_name": ""}, "must not be empty"),
    ("name-whitespace", {"project_name": "   "}, "must not be empty"),
    ("name-slash", {"project_name": "shop/admin"}, "path separators"),
    ("name-backslash", {"project_name": "shop\\admin"}, "path separators"),
    ("name-dotdot", {"project_name": "My..Shop"}, '".."'),
    ("package-keyword", {"package_name": "class"}, "keyword"),
    ("package-leading-digit", {"package_name": "1app"}, "lowercase Python identifier"),
    ("package-dash", {"package_name": "my-app"}, "lowercase Python identifier"),
    ("package-capitals", {"package_name": "MyApp"}, "lowercase Python identifier"),
    ("package-flask", {"package_name": "flask"}, "shadow"),
    ("package-sqlalchemy", {"package_name": "sqlalchemy"}, "shadow"),
    ("package-test", {"package_name": "test"}, "shadow"),
    ("package-tests", {"package_name": "tests"}, "shadow"),
    ("package-too-long", {"package_name": "a" * 33}, "at most 32 characters"),
    ("email-no-at", {"author_email": "me.example.com"}, "author_email"),
    ("email-two-at", {"author_email": "me@you@example.com"}, "author_email"),
    ("email-no-dotted-domain", {"author_email": "me@localhost"}, "author_email"),
    ("email-spaces", {"author_email": "me @example.com"}, "author_email"),
]

bad_answers = pytest.mark.parametrize(
    ("answers", "fragment"),
    [
        pytest.param({**GOOD, **change}, fragment, id=case_id)
        for case_id, change, fragment in BAD_ANSWERS
    ],
)


def copier_copy_cmd(answers: dict[str, Any], src: Path, dst: Path) -> list[str]:
    """The real copier CLI, non-interactive, at the clone's HEAD."""
    cmd = [sys.executable, "-m", "copier", "copy", "--defaults", "--vcs-ref", "HEAD", "--quiet"]
    for key, value in answers.items():
        cmd += ["--data", f"{key}={value}"]
    return [*cmd, str(src), str(dst)]


def _question(answers: dict[str, Any]) -> str:
    """The question a bad answer set is about (the one that differs from GOOD)."""
    changed = [key for key, value in answers.items() if GOOD.get(key) != value]
    return changed[0]


def _assert_nothing_written(dst: Path) -> None:
    """A refused copy leaves no trace in the destination."""
    leftovers = sorted(str(p.relative_to(dst)) for p in dst.rglob("*")) if dst.exists() else []
    assert not leftovers, f"refused copy still wrote: {leftovers}"


@pytest.mark.render
@bad_answers
def test_cli_refuses_bad_answer(
    template_clone: Path, tmp_path: Path, answers: dict[str, Any], fragment: str
) -> None:
    dst = tmp_path / "project"
    proc = run(
        copier_copy_cmd(answers, template_clone, dst), cwd=tmp_path, must_succeed=False, timeout=120
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, f"copier accepted {answers}:\n{output}"
    assert f"Validation error for question '{_question(answers)}'" in output, output
    assert fragment in output, output
    _assert_nothing_written(dst)


@pytest.mark.render
@bad_answers
def test_api_refuses_bad_answer(
    template_clone: Path, tmp_path: Path, answers: dict[str, Any], fragment: str
) -> None:
    dst = tmp_path / "project"
    dst.mkdir()
    with pytest.raises(
        ValueError, match=f"Validation error for question '{_question(answers)}'"
    ) as info:
        copy_template(template_clone, dst, answers)
    assert fragment in str(info.value)
    _assert_nothing_written(dst)


@pytest.mark.render
@check("package_name derived from project_name", GOOD)
def test_good_answers_render_with_derived_package_name(render: Render) -> None:
    project = render(GOOD)
    recorded = recorded_answers(project)
    assert recorded["project_name"] == "My Shop"
    assert recorded["package_name"] == "my_shop"
    assert (project / "src" / "my_shop" / "__init__.py").is_file()


@pytest.mark.render
def test_cli_renders_good_answers(template_clone: Path, tmp_path: Path) -> None:
    dst = tmp_path / "project"
    run(copier_copy_cmd(GOOD, template_clone, dst), cwd=tmp_path, timeout=120)
    assert (dst / "src" / "my_shop" / "__init__.py").is_file()
    assert (dst / ".copier-answers.yml").is_file()


@pytest.mark.render
@pytest.mark.parametrize(
    ("project_name", "package"),
    [("Über Café", "uber_cafe"), ("Crème Brûlée Łódź", "creme_brulee_lodz"), ("Straße", "strasse")],
)
def test_accented_names_suggest_the_plain_letters(
    render: Render, project_name: str, package: str
) -> None:
    recorded = recorded_answers(render({"project_name": project_name}))
    assert recorded["package_name"] == package


@pytest.mark.full
@pytest.mark.parametrize("project_name", ["PG Shop", "Public", "My Shop"])
def test_postgresql_accepts_the_development_role(
    render: Render, postgres_url: str, project_name: str
) -> None:
    """.env's role, password and database can be created as the README says, on a real server."""
    project = render({"project_name": project_name, "database": "postgresql"})
    env_line = next(
        line
        for line in (project / ".env").read_text().splitlines()
        if line.startswith("DATABASE_URL=")
    )
    url = urlsplit(env_line.removeprefix("DATABASE_URL="))
    database = url.path.lstrip("/")
    assert url.username == database
    assert url.username is not None
    # The password is the project's own random POSTGRES_PASSWORD, which compose uses too.
    assert f"\nPOSTGRES_PASSWORD={url.password}\n" in (project / ".env").read_text()
    assert url.password is not None and len(url.password) >= 32
    servers.create_owner(postgres_url, url.username, url.password)  # refused for a reserved name
    compose = (project / "compose.yaml").read_text()
    assert f"POSTGRES_USER: {url.username}" in compose
