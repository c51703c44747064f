"""`copier update` from the user's side: their edits stay, the template's arrive.

Every test works on temporary git clones of the committed template. Tests that
need several template versions build them synthetically in a clone with its
tags removed (v1.0.0 is HEAD; v2.0.0 and later add commits), so they never
depend on which tags a clone happens to have. The real releases come from the
release record (`releases.toml`): the suite recreates their tags in its clone
and updates a project from the oldest one to HEAD.

Copier and the generated projects run as users run them: the `copier` CLI of
the suite's venv, in a subprocess; copier settings are isolated by conftest.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.version import Version

from harness import servers
from harness.checks import check
from harness.commands import run
from harness.git import GIT_IDENTITY, git_commit_all
from harness.rendering import answers_slug, recorded_answers
from harness.venvs import run_project_tests

ANSWERS: dict[str, Any] = {"project_name": "Update Demo"}
PACKAGE = "update_demo"

#: Where the release record lives in the template repository, and its tags.
RELEASE_RECORD = "releases.toml"
RELEASE_TAG = re.compile(r"^v\d+\.\d+\.\d+$")

#: What the generated project's own check looks for (tests/test_repository.py).
CONFLICT_MARKER = re.compile(r"^(<{7}|>{7})( |$)", re.MULTILINE)

#: Exit code of copier when a template needs `--trust` (nothing is written).
COPIER_UNSAFE_EXIT = 4

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


# --------------------------------------------------------------------------
# Running copier and git
# --------------------------------------------------------------------------


def copier(
    *args: str | Path, cwd: Path, must_succeed: bool = True
) -> subprocess.CompletedProcess[str]:
    """The copier CLI, as a user runs it (`python -m copier` of the suite's venv)."""
    return run(
        [sys.executable, "-m", "copier", *map(str, args)],
        cwd=cwd,
        must_succeed=must_succeed,
        timeout=300,
    )


def git(repo: Path, *args: str) -> str:
    return run(["git", *args], cwd=repo, env=GIT_IDENTITY).stdout


def data_args(answers: dict[str, Any]) -> list[str]:
    return [f"--data={key}={value}" for key, value in answers.items()]


def generate(template: Path, dst: Path, ref: str, answers: dict[str, Any] = ANSWERS) -> Path:
    """`copier copy` at `ref` (no --trust), then the owner's first commit."""
    copier(
        "copy",
        "--defaults",
        "--quiet",
        f"--vcs-ref={ref}",
        *data_args(answers),
        template,
        dst,
        cwd=template,
    )
    git_commit_all(dst, "Generate from the template")
    return dst


def update(
    project: Path, *args: str, trust: bool = False, must_succeed: bool = True
) -> subprocess.CompletedProcess[str]:
    """`copier update --defaults` in the project (copier refuses a dirty one)."""
    return copier(
        "update",
        "--defaults",
        *(["--trust"] if trust else []),
        *args,
        cwd=project,
        must_succeed=must_succeed,
    )


def check_update(project: Path) -> int:
    """`copier check-update --quiet`: 2 when a newer release exists, else 0."""
    return copier("check-update", "--quiet", cwd=project, must_succeed=False).returncode


def update_report(project: Path) -> dict[str, Any]:
    """`copier check-update`'s JSON report (update_available, latest_version, ...)."""
    out = copier("check-update", "--output-format=json", cwd=project).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def copy_project(project: Path, dst: Path) -> Path:
    """A private copy (git history included) of a pre-rendered project."""
    shutil.copytree(project, dst, symlinks=True)
    return dst


def project_files(project: Path) -> Iterator[Path]:
    """The project's files, git's own directory left out."""
    for path in sorted(project.rglob("*")):
        if path.is_file() and ".git" not in path.relative_to(project).parts[:1]:
            yield path


def leftovers(project: Path) -> list[str]:
    """Files with conflict markers, and `.rej` files: what an update left unresolved."""
    found = []
    for path in project_files(project):
        rel = str(path.relative_to(project))
        if path.suffix == ".rej":
            found.append(rel)
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        if CONFLICT_MARKER.search(text):
            found.append(rel)
    return found


def tree(project: Path, ignore: frozenset[str] = frozenset({".env"})) -> dict[str, bytes]:
    """The project's files by relative path, for comparing two projects."""
    return {
        str(path.relative_to(project)): path.read_bytes()
        for path in project_files(project)
        if str(path.relative_to(project)) not in ignore
    }


def assert_same_tree(actual: Path, expected: Path) -> None:
    """Two projects hold the same files with the same bytes (`.env` aside)."""
    left, right = tree(actual), tree(expected)
    assert sorted(left) == sorted(right), "the projects hold different files"
    differing = [name for name in left if left[name] != right[name]]
    assert not differing, f"files differ from a fresh render: {differing}"


def repository_check(project: Path) -> subprocess.CompletedProcess[str]:
    """The project's own leftover check (its pre-commit hook runs the same file).

    `tests/test_repository.py` needs only pytest and the standard library, so the
    suite's interpreter runs it; `--noconftest` skips the project's fixtures,
    which import the (uninstalled) app.
    """
    return run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--noconftest",
            "tests/test_repository.py",
        ],
        cwd=project,
        must_succeed=False,
    )


# --------------------------------------------------------------------------
# Synthetic template versions
# --------------------------------------------------------------------------


def template_file(repo: Path, rendered: str) -> Path:
    """The file in template/ that renders to `rendered` (with or without `.jinja`)."""
    for candidate in (rendered, rendered + ".jinja"):
        path = repo / "template" / candidate
        if path.is_file():
            return path
    raise AssertionError(
        f"template/{rendered}[.jinja] is gone: the synthetic releases in {Path(__file__).name} edit it; "
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
    repo = base / "template"
    run(["git", "clone", "--quiet", "--no-hardlinks", str(template_clone), str(repo)], cwd=base)
    tags = git(repo, "tag", "--list").split()
    if tags:
        git(repo, "tag", "--delete", *tags)
    git(repo, "tag", "v1.0.0")
    for tag, change in releases.items():
        change(repo)
        git(repo, "add", "--all")
        git(repo, "commit", "--quiet", "--no-verify", "-m", f"Template {tag}")
        git(repo, "tag", tag)
    return Lineage(repo=repo, v1_project=generate(repo, base / "v1-project", "v1.0.0"))


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


# --------------------------------------------------------------------------
# Updates across synthetic releases
# --------------------------------------------------------------------------


@pytest.mark.full
@check("update keeps owner's and template's changes", ANSWERS)
def test_update_merges_owner_edits_with_template_changes(
    lineage: Lineage, tmp_path: Path, project_env: Callable[[Path], Path]
) -> None:
    project = copy_project(lineage.v1_project, tmp_path / "project")
    health = project / "src" / PACKAGE / "health.py"
    health.write_text(health.read_text() + USER_HEALTH_EDIT)
    (project / "src" / PACKAGE / "reports.py").write_text(USER_MODULE)
    (project / "tests" / "test_reports.py").write_text(USER_TEST)
    git_commit_all(project, "The owner's work")

    assert check_update(project) == 2, "check-update --quiet exits 2 while a newer release exists"
    report = update_report(project)
    assert report["update_available"] and report["latest_version"] == "2.0.0", report

    update(project)  # no --trust: no migration applies to this update

    assert recorded_answers(project)["_commit"] == "v2.0.0"
    assert leftovers(project) == []
    text = health.read_text()
    assert V2_HEALTH_LINE in text and USER_HEALTH_EDIT.strip() in text, (
        "both edits are in the module"
    )
    assert (project / "src" / PACKAGE / "reports.py").read_text() == USER_MODULE
    assert (project / "tests" / "test_reports.py").read_text() == USER_TEST
    assert 'PACKAGE = "update_demo"' in (project / "src" / PACKAGE / "about.py").read_text()
    assert check_update(project) == 0, "nothing newer after the update"
    assert repository_check(project).returncode == 0

    git_commit_all(project, "Update to template v2.0.0")
    run_project_tests(project_env(project), project)


@pytest.mark.render
@check("unedited project updated equals fresh copy", ANSWERS)
def test_unedited_project_updated_equals_fresh_copy(lineage: Lineage, tmp_path: Path) -> None:
    project = copy_project(lineage.v1_project, tmp_path / "project")
    update(project)
    fresh = generate(lineage.repo, tmp_path / "fresh", "v2.0.0")

    assert_same_tree(project, fresh)


@pytest.mark.render
@check("conflicting edit leaves markers the project's check catches", ANSWERS)
def test_clashing_edit_leaves_markers_that_the_project_check_rejects(
    lineage: Lineage, tmp_path: Path
) -> None:
    project = copy_project(lineage.v1_project, tmp_path / "project")
    assert repository_check(project).returncode == 0, "a fresh project passes its own check"
    health = project / "src" / PACKAGE / "health.py"
    insert_after_first_line(health, USER_CLASHING_LINE)  # where v2 adds its own line
    git_commit_all(project, "The owner's note")

    proc = update(project)

    assert proc.returncode == 0, "copier exits 0 even with conflicts"
    assert leftovers(project) == [f"src/{PACKAGE}/health.py"]
    text = health.read_text()
    assert (
        f"<<<<<<< before updating\n{USER_CLASHING_LINE}\n=======\n{V2_HEALTH_LINE}\n>>>>>>> after updating"
        in text
    )
    check_run = repository_check(project)
    assert check_run.returncode == 1, check_run.stdout
    assert (
        "test_no_conflict_markers" in check_run.stdout
        and f"src/{PACKAGE}/health.py" in check_run.stdout
    )


@pytest.mark.render
@check(".env survives update, never tracked", ANSWERS)
def test_env_file_is_owned_by_the_user_and_never_committed(
    lineage: Lineage, tmp_path: Path
) -> None:
    project = copy_project(lineage.v1_project, tmp_path / "project")
    env = project / ".env"
    secret = re.search(r"^SECRET_KEY=(\S+)$", env.read_text(), re.MULTILINE)
    assert secret, "a generated .env holds a SECRET_KEY"
    assert git(project, "ls-files", ".env") == "", ".env must not be committed"
    assert (
        run(["git", "check-ignore", "--quiet", ".env"], cwd=project, must_succeed=False).returncode
        == 0
    )
    tracked = [project / name for name in git(project, "ls-files").split()]
    assert not [
        p for p in tracked if p.is_file() and secret.group(1) in p.read_text(errors="replace")
    ]

    owned = env.read_text() + "MY_OWN_SETTING=42\n"
    env.write_text(owned)  # ignored by git, so the project stays clean
    update(project)

    assert env.read_text() == owned, "update leaves .env exactly as the owner left it"
    assert V2_ENV_LINE in template_file(lineage.repo, ".env").read_text(), "though v2 changed .env"
    assert git(project, "ls-files", ".env") == ""
    changed = [
        line[3:]
        for line in git(project, "status", "--porcelain", "--untracked-files=all").splitlines()
    ]
    assert ".env" not in changed


@pytest.mark.full
@check("update --data database=postgresql", ANSWERS)
def test_changing_an_answer_adds_exactly_that_feature(
    lineage: Lineage, tmp_path: Path, project_env: Callable[[Path], Path], postgres_url: str
) -> None:
    project = copy_project(lineage.v1_project, tmp_path / "project")
    env_before = (project / ".env").read_text()

    update(project, "--vcs-ref=v1.0.0", "--data=database=postgresql")

    fresh = generate(
        lineage.repo, tmp_path / "fresh", "v1.0.0", {**ANSWERS, "database": "postgresql"}
    )
    assert_same_tree(project, fresh)
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert any(dep.startswith("psycopg") for dep in pyproject["project"]["dependencies"])
    assert recorded_answers(project)["database"] == "postgresql"
    # .env is the owner's: the update does not add the DATABASE_URL a fresh copy has.
    assert (project / ".env").read_text() == env_before

    git_commit_all(project, "Switch to PostgreSQL")
    database = servers.fresh_database(postgres_url, answers_slug({"n": "update-pg"}))
    run_project_tests(project_env(project), project, extra={"TEST_DATABASE_URL": database})


@pytest.mark.render
@check("copy never needs --trust", ANSWERS)
def test_copy_never_needs_trust(
    moving_lineage: Lineage, template_clone: Path, tmp_path: Path
) -> None:
    """Even a version whose copier.yml declares `_migrations` copies without --trust."""
    config = yaml.safe_load((moving_lineage.repo / "copier.yml").read_text())
    assert config["_migrations"], "the newest synthetic release declares migrations"
    generate(moving_lineage.repo, tmp_path / "synthetic", "v4.0.0")
    generate(template_clone, tmp_path / "real", "HEAD")


@pytest.mark.render
@check("migration moves owner's file, runs once", ANSWERS)
def test_migration_moves_owner_file_and_runs_once(moving_lineage: Lineage, tmp_path: Path) -> None:
    project = copy_project(moving_lineage.v1_project, tmp_path / "project")
    old, new = project / MOVED_FROM, project / MOVED_TO
    old.write_text(old.read_text() + USER_HEALTH_TEST)
    git_commit_all(project, "The owner's extra health test")
    log = project / MIGRATION_LOG

    refused = update(project, "--vcs-ref=v3.0.0", must_succeed=False)
    assert refused.returncode == COPIER_UNSAFE_EXIT, "a migration applies, so copier wants --trust"
    assert git(project, "status", "--porcelain") == "" and not log.exists(), "and writes nothing"
    assert recorded_answers(project)["_commit"] == "v1.0.0"

    update(project, "--vcs-ref=v3.0.0", trust=True)

    assert log.read_text().splitlines() == ["before 1.0.0 -> 3.0.0", "after 1.0.0 -> 3.0.0"]
    assert not old.exists()
    moved = new.read_text()
    assert USER_HEALTH_TEST.strip() in moved, "the owner's edit followed the file"
    assert V3_MOVED_LINE in moved, "and the release's change to it merged in"
    assert leftovers(project) == []
    assert git(project, "ls-files", "--unmerged") == ""
    git_commit_all(project, "Update to template v3.0.0")

    update(project)  # v4.0.0 still declares the v3.0.0 migration: not applicable, so no --trust

    assert log.read_text().splitlines() == ["before 1.0.0 -> 3.0.0", "after 1.0.0 -> 3.0.0"], (
        "ran once"
    )
    assert recorded_answers(project)["_commit"] == "v4.0.0"
    assert new.read_text() == moved
    assert 'TEMPLATE_RELEASE = "v4"' in (project / "src" / PACKAGE / "about.py").read_text()


# --------------------------------------------------------------------------
# Real releases, from the release record
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Release:
    tag: str
    commit: str

    @property
    def version(self) -> Version:
        return Version(self.tag)


def read_release_record(repo: Path) -> list[Release]:
    """The recorded releases, oldest first; a malformed record fails loudly."""
    path = repo / RELEASE_RECORD
    assert path.is_file(), f"{RELEASE_RECORD} is missing from the template repository"
    table = tomllib.loads(path.read_text()).get("releases", {})
    assert isinstance(table, dict), f"{RELEASE_RECORD}: [releases] must be a table of tag = commit"
    releases = []
    for tag, commit in table.items():
        assert RELEASE_TAG.match(tag), f"{RELEASE_RECORD}: {tag!r} is not a vX.Y.Z tag"
        assert isinstance(commit, str) and re.fullmatch(r"[0-9a-f]{40}", commit), (
            f"{RELEASE_RECORD}: {tag} must name a full 40-character commit hash, got {commit!r}"
        )
        releases.append(Release(tag, commit))
    return sorted(releases, key=lambda release: release.version)


def tag_commit(repo: Path, tag: str) -> str | None:
    proc = run(
        ["git", "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}^{{commit}}"],
        cwd=repo,
        must_succeed=False,
    )
    return proc.stdout.strip() or None


def missing_history_hint(repo: Path) -> str:
    """Why a recorded commit may be absent: CI checkouts are often shallow."""
    shallow = git(repo, "rev-parse", "--is-shallow-repository").strip() == "true"
    return (
        " (this clone is shallow: fetch the whole history, e.g. `git fetch --unshallow --tags`)"
        if shallow
        else ""
    )


def recreate_release_tags(repo: Path, releases: list[Release]) -> None:
    """Make the clone's tags exactly the recorded releases, whatever it had."""
    tags = git(repo, "tag", "--list").split()
    if tags:
        git(repo, "tag", "--delete", *tags)
    for release in releases:
        exists = run(
            ["git", "cat-file", "-e", f"{release.commit}^{{commit}}"], cwd=repo, must_succeed=False
        )
        assert exists.returncode == 0, (
            f"{RELEASE_RECORD}: {release.tag} names {release.commit}, not in this history{missing_history_hint(repo)}"
        )
        git(repo, "tag", release.tag, release.commit)


@pytest.fixture(scope="module")
def release_clone(
    template_clone: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[Release]]:
    """A clone of HEAD whose tags are the recorded releases."""
    repo = tmp_path_factory.mktemp("releases") / "template"
    run(
        ["git", "clone", "--quiet", "--no-hardlinks", str(template_clone), str(repo)],
        cwd=repo.parent,
    )
    releases = read_release_record(repo)
    recreate_release_tags(repo, releases)
    return repo, releases


@pytest.mark.render
@check("release record matches tags and CHANGELOG")
def test_release_record_matches_tags_and_changelog(template_clone: Path) -> None:
    """Each recorded release is in HEAD's history, agrees with its tag where the
    clone has one and has a CHANGELOG entry; each local release tag is recorded."""
    releases = read_release_record(template_clone)
    changelog_path = template_clone / "CHANGELOG.md"
    changelog = changelog_path.read_text() if changelog_path.is_file() else ""
    problems = []
    for release in releases:
        ancestor = run(
            ["git", "merge-base", "--is-ancestor", release.commit, "HEAD"],
            cwd=template_clone,
            must_succeed=False,
        )
        if ancestor.returncode != 0:
            problems.append(
                f"{release.tag}: {release.commit} is not in the history of HEAD{missing_history_hint(template_clone)}"
            )
        tagged = tag_commit(template_clone, release.tag)
        if tagged is not None and tagged != release.commit:
            problems.append(
                f"{release.tag}: the tag names {tagged}, the record {release.commit}; a release never moves"
            )
        version = re.escape(release.tag.removeprefix("v"))
        if not re.search(rf"^#+ .*(?<![\w.])v?{version}(?![\w.])", changelog, re.MULTILINE):
            problems.append(f"{release.tag}: no CHANGELOG.md heading names it")
    recorded = {release.tag for release in releases}
    for tag in git(template_clone, "tag", "--list").split():
        if RELEASE_TAG.match(tag) and tag not in recorded:
            problems.append(
                f"tag {tag} is not in {RELEASE_RECORD}: add the line "
                f'"{tag}" = "{tag_commit(template_clone, tag)}" under [releases] and commit'
            )
    assert not problems, "\n".join(problems)


@pytest.mark.full
@check("update from the oldest release to HEAD", ANSWERS)
def test_update_from_oldest_release_to_head(
    release_clone: tuple[Path, list[Release]], tmp_path: Path, project_env: Callable[[Path], Path]
) -> None:
    repo, releases = release_clone
    if not releases:
        pytest.skip(
            f"{RELEASE_RECORD} records no release yet; this runs from the first published release on"
        )
    oldest = releases[0]
    project = generate(repo, tmp_path / "project", oldest.tag)
    assert recorded_answers(project)["_commit"] == oldest.tag

    proc = update(project, "--vcs-ref=HEAD", must_succeed=False)
    if proc.returncode == COPIER_UNSAFE_EXIT:
        # Only a migration between the two may ask for trust (no tasks, no extensions).
        config = yaml.safe_load((repo / "copier.yml").read_text())
        assert config.get("_migrations"), (
            f"copier wants --trust without any migration:\n{proc.stderr}"
        )
        proc = update(project, "--vcs-ref=HEAD", trust=True)
    assert proc.returncode == 0, proc.stderr

    head = git(repo, "describe", "--tags", "--always").strip()
    assert recorded_answers(project)["_commit"] == head
    assert leftovers(project) == [], "an unedited project updates without conflicts"
    assert git(project, "ls-files", "--unmerged") == ""
    git_commit_all(project, f"Update from {oldest.tag} to HEAD")
    run_project_tests(project_env(project), project)


USER_MODEL_EDIT = "    # The owner's note: ids are never reused.\n"


@pytest.mark.full
@check("update across a release that moves files keeps the owner's edits", ANSWERS)
def test_update_across_a_moving_release_keeps_owner_edits(
    release_clone: tuple[Path, list[Release]], tmp_path: Path
) -> None:
    """The newest `_migrations` entry, from the oldest release: edits follow the moves.

    When that release is not tagged yet, HEAD is tagged with it in a clone of
    our own, as the release will be.
    """
    shared, releases = release_clone
    config = yaml.safe_load((shared / "copier.yml").read_text())
    migrations = config.get("_migrations") or []
    if not releases or not migrations:
        pytest.skip("needs a recorded release and a `_migrations` entry after it")
    target = max((str(entry["version"]) for entry in migrations), key=Version)
    repo = tmp_path / "template"
    git(shared, "clone", "--quiet", "--no-hardlinks", str(shared), str(repo))
    if tag_commit(repo, target) is None:
        git(repo, "tag", target, "HEAD")
    project = generate(repo, tmp_path / "project", releases[0].tag)
    models = project / "src" / PACKAGE / "models.py"
    text = models.read_text()
    anchor = "    id: Mapped[int] = mapped_column(primary_key=True)\n"
    assert anchor in text, "the oldest release's models.py has the line the owner edits after"
    models.write_text(text.replace(anchor, anchor + USER_MODEL_EDIT))
    git_commit_all(project, "The owner's note in models.py")

    update(project, f"--vcs-ref={target}", trust=True)

    assert leftovers(project) == [], "an edit on lines the release kept merges cleanly"
    assert git(project, "ls-files", "--unmerged") == ""
    package = project / "src" / PACKAGE
    assert not (package / "models.py").exists() and not (package / "api.py").exists()
    assert USER_MODEL_EDIT in (package / "models" / "user.py").read_text()
    assert (package / "users.py").is_file() and (project / "tests" / "test_users.py").is_file()
