"""Answers with quotes, backslashes, non-ASCII text, emoji and great length still
render a project whose every file parses, and that installs.

Free-text answers flow into TOML, YAML, Markdown and (through package_name)
Python; a quote or a backslash that is not escaped for the file it lands in
breaks the project before its owner has typed a line.
"""

from __future__ import annotations

import ast
import email.utils
import json
import keyword
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.checks import check
from harness.commands import run
from harness.rendering import Answers, Render, copy_template, recorded_answers
from harness.venvs import VenvPool, tool_env, venv_bin

LONG_NAME = ("Quite Long Project Name " * 5)[:100]
LONG_DESCRIPTION = ("A description that goes on and on. " * 6)[:200]

AWKWARD: dict[str, Answers] = {
    "quotes": {
        "project_name": 'Bob\'s "Best" Shop',
        "project_description": 'Says "hi", it\'s fine; C:\\new\\table and a \\"quoted\\" path.',
        "author_name": 'Dan "The Man" O\'Neil',
    },
    "unicode": {
        "project_name": "Café Ünïcode 日本",
        "project_description": "Ça marche: naïve façade, 日本語のテキスト, Ελληνικά…",
        "author_name": "Zoë Ångström-Łukasiewicz",
    },
    "emoji": {
        "project_name": "Rocket 🚀 Launch",
        "project_description": "Ships fast 🚀✨ and safely 🔒.",
        "author_name": "Ada 😀 Lovelace",
    },
    # The longest package name the validator allows (32 characters) must still
    # fit the generated code within the project's own line length.
    "longest-package": {"project_name": "Customer Relationship Manager Pro X"[:32]},
    "long": {
        "project_name": LONG_NAME,
        "package_name": "quite_long_project_name_quite_lo",
        "project_description": LONG_DESCRIPTION,
        "author_name": "Maximiliana " * 8 + "Long",
    },
    # Everything at once, with every optional file rendered.
    "everything": {
        "project_name": 'Zoë\'s "Ünïcode" Café 🚀 日本',
        "project_description": "Quotes ' and \", a back\\slash, naïve 日本語 and 🚀 emoji.",
        "author_name": 'José "Pepe" O\'Brien 😀',
        "database": "postgresql",
        "task_queue": "celery",
        "docker": True,
        "ci": "github",
    },
}

awkward_answers = pytest.mark.parametrize(
    "answers", [pytest.param(answers, id=name) for name, answers in AWKWARD.items()]
)


@pytest.mark.render
def test_long_answers_are_as_long_as_promised() -> None:
    assert len(LONG_NAME) == 100 and not LONG_NAME[-1].isspace()
    assert len(LONG_DESCRIPTION) == 200


def _files(project: Path, *suffixes: str) -> list[Path]:
    """Rendered files with one of the suffixes (.git left out)."""
    return sorted(
        p
        for p in project.rglob("*")
        if p.is_file()
        and ".git" not in p.relative_to(project).parts[:1]
        and (p.suffix in suffixes or p.name in suffixes)
    )


@pytest.mark.render
@awkward_answers
@check("awkward answers: files parse")
def test_every_file_parses(render: Render, answers: Answers) -> None:
    project = render(answers)

    tomls = _files(project, ".toml")
    assert project / "pyproject.toml" in tomls
    for path in tomls:
        with path.open("rb") as fh:
            tomllib.load(fh)  # raises with the file's line and column
    yamls = _files(project, ".yml", ".yaml")
    assert project / ".copier-answers.yml" in yamls
    for path in yamls:
        yaml.safe_load(path.read_text(encoding="utf-8"))
    pys = _files(project, ".py")
    assert pys
    for path in pys:
        ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        compile(path.read_text(encoding="utf-8"), str(path), "exec", dont_inherit=True)

    # Every answer comes back exactly as given, wherever it was written.
    recorded = recorded_answers(project)
    for key, value in answers.items():
        assert recorded[key] == value, key
    with (project / "pyproject.toml").open("rb") as fh:
        meta = tomllib.load(fh)["project"]
    assert meta["description"] == recorded["project_description"]
    assert meta["authors"][0]["name"] == recorded["author_name"]
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert recorded["project_name"] in readme and recorded["project_description"] in readme


@pytest.mark.render
@awkward_answers
@check("awkward answers: package_name")
def test_derived_package_name_is_a_plain_identifier(render: Render, answers: Answers) -> None:
    """Whatever the project name holds, the derived package name is importable."""
    package = recorded_answers(render(answers))["package_name"]
    assert package.isascii() and package.isidentifier(), package
    assert package == package.lower() and not keyword.iskeyword(package), package
    assert (render(answers) / "src" / package / "__init__.py").is_file()


@pytest.mark.render
@pytest.mark.parametrize("name", ["日本語", "🚀🚀", "Ωμέγα", "__ 42 __"])
def test_name_without_ascii_letters_is_refused_not_mangled(
    template_clone: Path, tmp_path: Path, name: str
) -> None:
    """No ASCII letter to build a package name from: copier must refuse with the
    validator's message (and write nothing), not render an invalid package."""
    dst = tmp_path / "project"
    dst.mkdir()
    with pytest.raises(ValueError, match="Validation error for question 'package_name'") as info:
        copy_template(template_clone, dst, {"project_name": name})
    assert "lowercase Python identifier" in str(info.value)
    assert not list(dst.iterdir())


@pytest.mark.full
@pytest.mark.parametrize("answers", [pytest.param(AWKWARD["everything"], id="everything")])
@check("awkward answers: installs, metadata round-trips")
def test_awkward_project_installs_and_imports(
    render: Render, project_env: Any, venv_pool: VenvPool, answers: Answers
) -> None:
    project = render(answers)
    package = recorded_answers(project)["package_name"]
    venv = project_env(project)
    python = venv_bin(venv, "python")
    run([venv_pool.uv, "pip", "check", "--python", python], cwd=project)
    probe = f"""
import email.utils, json, sys
from importlib.metadata import metadata
from {package} import create_app
app = create_app({{"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"}})
assert app.test_client().get("/health").status_code == 200
meta = metadata({package!r})
json.dump({{"summary": meta["Summary"], "author": meta["Author-email"]}}, sys.stdout)
"""
    out = run([python, "-c", probe], cwd=project, env=tool_env(venv)).stdout
    meta = json.loads(out)
    assert meta["summary"] == answers["project_description"]
    assert email.utils.parseaddr(meta["author"])[0] == answers["author_name"], meta["author"]


@pytest.mark.full
@awkward_answers
@check("awkward answers: ruff check")
def test_awkward_project_passes_ruff(render: Render, project_env: Any, answers: Answers) -> None:
    """Long or odd names must not push generated code past the project's own linter."""
    project = render(answers)
    venv = project_env(project)
    ruff = venv_bin(venv, "ruff")
    run([ruff, "check", "--no-cache", "."], cwd=project, env=tool_env(venv))
    run([ruff, "format", "--check", "--no-cache", "."], cwd=project, env=tool_env(venv))
