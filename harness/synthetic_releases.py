"""Synthetic template releases for the update tests, and the owner's edits.

A clone of the committed template has its tags removed; v1.0.0 is HEAD and
v2.0.0 and later add commits, so the tests never depend on which tags a clone
happens to have. Test modules import the fixtures `lineage` and
`moving_lineage` by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.copier_cli import generate
from harness.git import clone_template, git

#: The answers every update scenario renders with, and the package they give.
ANSWERS: dict[str, Any] = {"project_name": "Update Demo"}
PACKAGE = "update_demo"

# Lines the synthetic releases add, and the user's edits (found again after updates).
V2_HEALTH_LINE = "# Template v2: the health check stays cheap."
V2_ENV_LINE = "TEMPLATE_V2_SETTING=on"
V3_MOVED_LINE = "# Template v3: HTTP tests live in tests/http/."
USER_HEALTH_EDIT = '\n\nUSER_MARK = "kept"  # added by the project owner\n'
USER_CLASHING_LINE = "# The owner's note, where template v2 writes its own."
USER_MODULE = '''"""The owner's own module: the template knows nothing of it."""


def label(count: int) -> str:
    return f"{count} user(s)"
'''
USER_TEST = f'''"""The owner's own tests, which must keep passing after updates."""

from {PACKAGE} import health
from {PACKAGE}.reports import label


def test_label() -> None:
    assert label(2) == "2 user(s)"


def test_owner_edit_in_generated_module_survives() -> None:
    assert health.USER_MARK == "kept"
'''
USER_HEALTH_TEST = """

def test_owner_added_health_check(client: FlaskClient) -> None:
    assert client.get("/health").status_code == 200
"""
MOVED_FROM = "tests/test_health.py"
MOVED_TO = "tests/http/test_health.py"
MIGRATION_LOG = ".git/template-migrations.log"


def template_file(repo: Path, rendered: str) -> Path:
    """The file in template/ that renders to `rendered` (with or without `.jinja`)."""
    for candidate in (rendered, rendered + ".jinja"):
        path = repo / "template" / candidate
        if path.is_file():
            return path
    raise AssertionError(
        f"template/{rendered}[.jinja] is gone: the synthetic releases in harness/synthetic_releases.py edit it; "
        "point them at another file"
    )


def insert_after_first_line(path: Path, line: str) -> None:
    """Add a line after line 1: valid Python whether line 1 is a comment, a
    one-line docstring or the start of a longer one."""
    first, _, rest = path.read_text().partition("\n")
    path.write_text(f"{first}\n{line}\n{rest}")


def release_v2(repo: Path) -> None:
    """A plain release: a changed module, a new module, a changed `.env`."""
    insert_after_first_line(template_file(repo, "src/{{package_name}}/health.py"), V2_HEALTH_LINE)
    (repo / "template" / "src" / "{{package_name}}" / "about.py.jinja").write_text(
        '"""Which template release generated this package (new in template v2)."""\n\n'
        'TEMPLATE_RELEASE = "v2"\nPACKAGE = "{{ package_name }}"\n'
    )
    env = template_file(repo, ".env")
    env.write_text(env.read_text() + f"# New in template v2.\n{V2_ENV_LINE}\n")


def release_v3(repo: Path) -> None:
    """A release that moves a generated file, with the migrations that carry
    the user's copy along and log each run (in .git/, so the project stays clean)."""
    source = template_file(repo, MOVED_FROM)
    target = repo / "template" / MOVED_TO
    target = target.with_name(target.name + (".jinja" if source.suffix == ".jinja" else ""))
    target.parent.mkdir(parents=True, exist_ok=True)
    git(repo, "mv", str(source.relative_to(repo)), str(target.relative_to(repo)))
    (target.parent / "__init__.py").write_text("")
    insert_after_first_line(target, V3_MOVED_LINE)

    config_path = repo / "copier.yml"
    config = yaml.safe_load(config_path.read_text())
    migrations = list(config.get("_migrations") or [])
    migrations += [
        {
            "version": "v3.0.0",
            "when": "{{ true }}",
            "command": [
                "{{ _copier_python }}",
                "{{ _copier_conf.src_path }}/hooks/move_paths.py",
                "--stage",
                "{{ _stage }}",
                "--answers-file",
                "{{ _copier_conf.answers_file }}",
                MOVED_FROM,
                MOVED_TO,
            ],
        },
        {
            "version": "v3.0.0",
            "when": "{{ true }}",
            "command": [
                "{{ _copier_python }}",
                "-c",
                "import pathlib, sys; log = pathlib.Path(sys.argv[1]);"
                " log.write_text((log.read_text() if log.exists() else '') + sys.argv[2] + chr(10))",
                MIGRATION_LOG,
                "{{ _stage }} {{ _version_pep440_from }} -> {{ _version_pep440_to }}",
            ],
        },
    ]
    config["_migrations"] = migrations
    config_path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=1000))


def release_v4(repo: Path) -> None:
    """A plain release after the move: its migration must not run again."""
    about = repo / "template" / "src" / "{{package_name}}" / "about.py.jinja"
    about.write_text(
        about.read_text().replace('TEMPLATE_RELEASE = "v2"', 'TEMPLATE_RELEASE = "v4"')
    )


@dataclass(frozen=True)
class Lineage:
    """A template repository with synthetic releases, and a project generated
    from its v1.0.0 (committed, untouched: copy it before changing it)."""

    repo: Path
    v1_project: Path


def build_lineage(
    template_clone: Path, base: Path, releases: dict[str, Callable[[Path], None]]
) -> Lineage:
    """Clone the committed template, drop its tags, tag HEAD v1.0.0 and add the releases."""
    repo = clone_template(base / "template", source=template_clone)
    tags = git(repo, "tag", "--list").split()
    if tags:
        git(repo, "tag", "--delete", *tags)
    git(repo, "tag", "v1.0.0")
    for tag, change in releases.items():
        change(repo)
        git(repo, "add", "--all")
        git(repo, "commit", "--quiet", "--no-verify", "-m", f"Template {tag}")
        git(repo, "tag", tag)
    return Lineage(repo=repo, v1_project=generate(repo, base / "v1-project", "v1.0.0", ANSWERS))


@pytest.fixture(scope="module")
def lineage(template_clone: Path, tmp_path_factory: pytest.TempPathFactory) -> Lineage:
    """v1.0.0 (HEAD) and v2.0.0 (a plain release)."""
    return build_lineage(template_clone, tmp_path_factory.mktemp("lineage"), {"v2.0.0": release_v2})


@pytest.fixture(scope="module")
def moving_lineage(template_clone: Path, tmp_path_factory: pytest.TempPathFactory) -> Lineage:
    """v1.0.0 to v4.0.0, where v3.0.0 moves a file with a migration."""
    return build_lineage(
        template_clone,
        tmp_path_factory.mktemp("moving-lineage"),
        {"v2.0.0": release_v2, "v3.0.0": release_v3, "v4.0.0": release_v4},
    )
