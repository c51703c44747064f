"""A generated project grows the way its README says, and ships what it serves.

The README's "Adding a resource" recipe is followed step by step on a fresh
project (its files written, its edits applied, its commands run), ending with
the project's tests, ruff, mypy and `flask db check` green. The project's
wheel is built, installed elsewhere and served by gunicorn; Chromium opens
its `/docs` page and finds every operation of `/openapi.json`.
"""

from __future__ import annotations

import difflib
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from uv import find_uv_bin

from harness.checks import check
from harness.commands import clean_env, run
from harness.gunicorn import Gunicorn
from harness.http_requests import request
from harness.rendering import Render
from harness.venvs import tool_env

pytestmark = pytest.mark.full

ANSWERS: dict[str, Any] = {"project_name": "Grow Demo"}
PACKAGE = "grow_demo"
RECIPE_TITLE = "## Adding a resource"
CHROMIUM = Path("/usr/bin/chromium")
#: What the README's edit blocks mark on the lines a reader adds or changes.
EDIT_MARKERS = re.compile(r"  # (new|changed)$")
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Step:
    """One fenced block of the recipe: a file to write, a file to edit, or commands."""

    kind: str  # "file", "edit" or "sh"
    path: str
    text: str


def recipe_steps(readme: str) -> list[Step]:
    """The recipe's blocks, in order (the section ends at the next `## `)."""
    start = readme.index(RECIPE_TITLE)
    end = readme.find("\n## ", start + len(RECIPE_TITLE))
    section = readme[start : end if end != -1 else None]
    steps = []
    for language, body in BLOCK.findall(section):
        if language == "sh":
            steps.append(Step("sh", "", body))
            continue
        first, _, rest = body.partition("\n")
        match = re.fullmatch(r"# (file|edit): (\S+)", first)
        assert match, f"a recipe block must start with '# file: PATH' or '# edit: PATH': {first!r}"
        steps.append(Step(match[1], match[2], rest))
    return steps


def apply_edit(current: str, edited: str, path: str) -> str:
    """`edited` without its markers, after checking it is `current` plus marked lines.

    So the README cannot drift from the file it shows: every unmarked line is
    in the project's file as it is, and only marked lines add or replace.
    """
    old, new = current.splitlines(), edited.splitlines()
    plain = [EDIT_MARKERS.sub("", line) for line in new]
    problems = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        marked = [EDIT_MARKERS.search(line) for line in new[j1:j2]]
        if tag == "equal":
            continue
        if tag == "delete" or not all(marked):
            problems.append(f"{tag}: {old[i1:i2]} -> {new[j1:j2]}")
        elif tag == "replace" and (i2 - i1 != j2 - j1 or any(m[1] != "changed" for m in marked)):
            problems.append(f"replace needs one '# changed' line per line: {new[j1:j2]}")
        elif tag == "insert" and any(m[1] != "new" for m in marked):
            problems.append(f"an added line is marked '# changed': {new[j1:j2]}")
    assert not problems, f"README's {path} has drifted from the project's:\n" + "\n".join(problems)
    return "\n".join(plain) + "\n"


@pytest.mark.render
def test_apply_edit_refuses_a_drifted_readme() -> None:
    current = "a\nb\nc\n"
    assert apply_edit(current, "a\nb\nnew  # new\nc\n", "x") == "a\nb\nnew\nc\n"
    assert apply_edit(current, "a\nB  # changed\nc\n", "x") == "a\nB\nc\n"
    for drifted in ("a\nc\n", "a\nB\nc\n", "a\nb\nnew\nc\n", "a\nb\nB  # new\n"):
        with pytest.raises(AssertionError, match="drifted"):
            apply_edit(current, drifted, "x")


@check("README recipe: adding a resource", ANSWERS)
def test_readme_recipe_adds_a_resource(render: Render, project_env: Any, tmp_path: Path) -> None:
    project = shutil.copytree(render(ANSWERS), tmp_path / "project", symlinks=True)
    venv = project_env(project)
    steps = recipe_steps((project / "README.md").read_text())
    assert [step.kind for step in steps].count("sh") >= 1, "the recipe runs its commands"
    versions = project / "src" / PACKAGE / "migrations" / "versions"
    before = set(versions.glob("*.py"))

    for step in steps:
        target = project / step.path
        if step.kind == "file":
            assert not target.exists(), f"the recipe would overwrite {step.path}"
            target.write_text(step.text)
        elif step.kind == "edit":
            target.write_text(apply_edit(target.read_text(), step.text, step.path))
        else:
            for line in step.text.splitlines():
                run(
                    ["bash", "-euo", "pipefail", "-c", line],
                    cwd=project,
                    env=clean_env(tool_env(venv)),
                    timeout=600,
                )

    new_migrations = set(versions.glob("*.py")) - before
    assert len(new_migrations) == 1, "flask db migrate wrote one migration"
    migration = new_migrations.pop().read_text()
    assert 'op.create_table(\n        "tags"' in migration, migration


# --------------------------------------------------------------------------
# Package data: the wheel ships templates and static files, served from it
# --------------------------------------------------------------------------

SITE_APP = f'''"""The owner's view of a template: served from the installed wheel."""

from flask import render_template

from {PACKAGE} import create_app

app = create_app()
app.add_url_rule(
    "/hello", "hello", lambda: render_template("pages/hello.html", name="the wheel")
)
'''


@pytest.fixture
def installed_site(
    render: Render, tmp_path: Path, suite_cache: Path
) -> tuple[Path, Path, dict[str, str]]:
    """The project with one template and one static file of the owner's, built
    into a wheel and installed in a venv of its own; (venv, serving dir, env)."""
    project = shutil.copytree(render(ANSWERS), tmp_path / "project", symlinks=True)
    package = project / "src" / PACKAGE
    (package / "templates" / "pages").mkdir(parents=True)
    (package / "templates" / "pages" / "hello.html").write_text("<p>Hello from {{ name }}</p>\n")
    (package / "static" / "css").mkdir(parents=True)
    (package / "static" / "css" / "site.css").write_text("body { color: teal; }\n")
    uv = find_uv_bin()
    uv_env = clean_env({"UV_CACHE_DIR": str(suite_cache / "uv")})
    dist, venv = tmp_path / "dist", tmp_path / "wheel-venv"
    run(
        [uv, "build", "--quiet", "--wheel", "--out-dir", str(dist), str(project)],
        cwd=tmp_path,
        env=uv_env,
        timeout=600,
    )
    (wheel,) = dist.glob("*.whl")
    run([uv, "venv", "--quiet", str(venv)], cwd=tmp_path, env=uv_env)
    run(
        [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), str(wheel)],
        cwd=tmp_path,
        env=uv_env,
        timeout=600,
    )
    serve_dir = tmp_path / "serve"  # not the project: imports come from the wheel
    serve_dir.mkdir()
    (serve_dir / "site_app.py").write_text(SITE_APP)
    env = clean_env(
        tool_env(
            venv,
            {
                "DATABASE_URL": f"sqlite:///{tmp_path / 'site.sqlite3'}",
                "SECRET_KEY": "growing-tests-" + "k" * 40,
            },
        )
    )
    run([str(venv / "bin" / "flask"), "--app", PACKAGE, "db", "upgrade"], cwd=serve_dir, env=env)
    return venv, serve_dir, env


def chromium_dom(url: str, profile: Path) -> str:
    """The page's DOM once its scripts have run, from headless Chromium."""
    proc = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",  # the suite may run as root
            "--disable-gpu",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=20000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@check("wheel ships templates and static files; /docs lists every operation", ANSWERS)
def test_installed_wheel_serves_its_templates_static_files_and_docs(
    installed_site: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    venv, serve_dir, env = installed_site
    located = run(
        [str(venv / "bin" / "python"), "-c", f"import {PACKAGE}; print({PACKAGE}.__file__)"],
        cwd=serve_dir,
        env=env,
    ).stdout
    assert str(venv) in located, f"{PACKAGE} must come from the installed wheel: {located}"
    server = Gunicorn(
        venv=venv, app="site_app:app", cwd=serve_dir, env=env, log_dir=tmp_path / "logs", workers=1
    )
    with server:
        port = server.port
        hello = request(port, "GET", "/hello")
        assert (hello.status, hello.body) == (200, b"<p>Hello from the wheel</p>")
        for path in ("/static/css/site.css", "/static/docs.js", "/docs/assets/swagger-ui.css"):
            assert request(port, "GET", path).status == 200, path
        document = request(port, "GET", "/openapi.json").json()
        dom = chromium_dom(f"http://127.0.0.1:{port}/docs", tmp_path / "chromium")

    operations = [
        (operation["tags"][0], operation["operationId"])
        for methods in document["paths"].values()
        for operation in methods.values()
    ]
    assert len(operations) >= 10, operations
    missing = [
        f"{tag}/{operation_id}"
        for tag, operation_id in operations
        if f'id="operations-{tag}-{operation_id}"' not in dom
    ]
    assert missing == [], f"/docs does not list: {missing}\n{dom[:2000]}"
