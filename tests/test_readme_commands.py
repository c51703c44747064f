"""The commands both READMEs and copier's after-copy message give work as written.

Nothing here copies a command: the test reads the template's README.md, runs
its quick start in a fresh clone, takes the command lines of copier's
after-copy message from its output, and then runs the generated project's
README.md, on SQLite, on PostgreSQL and with Celery, down to `copier update` to
a newer release from inside the project. A README edit that breaks a command
fails here.

Conventions (say them in the README templates' comments too):
- Every ```` ```sh ```` block runs, in file order, in one bash shell per README
  (`set -e`), so `cd` and `. .venv/bin/activate` carry over. A ```` ```shell ````
  block is shown, never run (root, Docker, Homebrew, or the suite itself).
- A line ending in `# until Ctrl-C, ready at <URL>` or `# until Ctrl-C, ready
  when it logs "<text>"` blocks: what precedes its last `&&` runs as usual, the
  last command runs in the background until the URL answers 200 or its log
  shows the text, and is stopped when the script ends.
- Before a project README section the test does what its prose asks of the
  reader (`READER_STEPS`): edit a model before "Change the models"; commit the
  work and publish a newer template release before "Updating from the template".
- The test sets only: `FLASK_RUN_PORT` and `PORT` (free ports; the probe URLs'
  5000 and 8000 follow), `DATABASE_URL` for PostgreSQL and `CELERY_BROKER_URL`,
  `CELERY_RESULT_BACKEND` for Celery (private servers from harness/servers.py);
  `localhost:5432` in commands names the private PostgreSQL server. For another
  answer set it appends `--data` answers to the quick start's `copier copy`.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from harness import servers
from harness.checks import check
from harness.commands import clean_env, run
from harness.git import GIT_IDENTITY
from harness.processes import free_port
from harness.rendering import Render, recorded_answers

pytestmark = pytest.mark.full

#: Newer than any real release: the quick start then renders the committed HEAD.
HEAD_TAG = "v99.0.0"
NEXT_TAG = "v99.0.1"
NEXT_RELEASE_LINE = "Template release v99.0.1 was here."
PACKAGE = "my_shop"  # the quick start's project_name="My Shop"

FENCE = re.compile(r"^```(?P<lang>[\w-]*)\n(?P<body>.*?)^```\s*$", re.MULTILINE | re.DOTALL)
BLOCKING = re.compile(
    r'^(?P<cmd>.*?)\s+# until Ctrl-C, ready (?:at (?P<url>\S+)|when it logs "(?P<text>[^"]+)")\s*$'
)

#: Runs first in every script: background commands and their probes.
PRELUDE = r"""
set -e
background=()
stop_background() { for pid in "${background[@]}"; do kill -- "-$pid" 2>/dev/null || true; done; }
trap stop_background EXIT
# until_ready PROBE COMMAND: run COMMAND in the background until PROBE holds
# (url:<URL> answers 200, or log:<text> appears in its output), 90 s at most.
until_ready() {
    local probe=$1 command=$2 log
    log=$(mktemp)
    setsid bash -c "$command" >"$log" 2>&1 &
    background+=("$!")
    for _ in $(seq 450); do
        case $probe in
            url:*) python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
                       "${probe#url:}" 2>/dev/null && return 0 ;;
            log:*) grep -qF -- "${probe#log:}" "$log" && return 0 ;;
        esac
        kill -0 "$!" 2>/dev/null || { echo "exited early: $command"; cat "$log"; return 1; }
        sleep 0.2
    done
    echo "never ready ($probe): $command"; cat "$log"; return 1
}
"""


def sh_blocks(markdown: str) -> list[str]:
    """The bodies of the ```sh blocks, in order."""
    return [m["body"] for m in FENCE.finditer(markdown) if m["lang"] == "sh"]


def sections(markdown: str) -> list[tuple[str, str]]:
    """(heading, text) for each `## ` section; text before the first is ("", ...)."""
    parts = re.split(r"^## (.+)$", markdown, flags=re.MULTILINE)
    return [("", parts[0]), *zip(parts[1::2], parts[2::2], strict=True)]


def as_script(lines: str, ports: dict[str, int]) -> str:
    """Shell lines as bash runs them here: blocking commands go to the background."""
    out = []
    for line in lines.splitlines():
        found = BLOCKING.match(line)
        if not found:
            out.append(line)
            continue
        before, _, last = found["cmd"].rpartition(" && ")
        if found["url"]:
            url = found["url"]
            for default, port in ports.items():
                url = url.replace(f":{default}/", f":{port}/")
            probe = f"url:{url}"
        else:
            probe = f"log:{found['text']}"
        out += [before, f"until_ready {shlex.quote(probe)} {shlex.quote(last)}"]
    return "\n".join(out)


def after_copy_commands(copier_output: str) -> str:
    """The command lines of copier's after-copy message (indented four spaces)."""
    message = copier_output[copier_output.index("Next steps") :]
    return "\n".join(line.strip() for line in message.splitlines() if line.startswith("    "))


def bash(script: str, cwd: Path, env: dict[str, str], log: Path) -> str:
    """Run `script` with bash (tracing each command); return its output."""
    log.write_text(PRELUDE + script)
    proc = run(["bash", "-x", log], cwd=cwd, env=env, must_succeed=False, timeout=1500)
    assert proc.returncode == 0, (
        f"README commands failed (script: {log})\n--- stdout ---\n{proc.stdout[-6000:]}"
        f"\n--- stderr ---\n{proc.stderr[-6000:]}"
    )
    return proc.stdout + proc.stderr


def reader_steps(template: Path) -> dict[str, str]:
    """What the reader does before a section, per its prose (shell lines)."""
    add_column = (
        "python3 - <<'EOF'\n"
        "import pathlib, re\n"
        f"models = next(p for p in pathlib.Path('src/{PACKAGE}').rglob('*.py')"
        " if 'class User(' in p.read_text())\n"
        "text = models.read_text()\n"
        "text = re.sub(r'^( +)username: Mapped.*$', lambda m: m[0] + '\\n' + m[1]"
        " + 'nickname: Mapped[str | None] = mapped_column(String(40))', text, count=1,"
        " flags=re.M)\n"
        "models.write_text(text)\n"
        "EOF"
    )
    release = (
        "git add -A && git commit -q -m 'My work'\n"
        f"( cd {shlex.quote(str(template))} && printf '\\n%s\\n' {shlex.quote(NEXT_RELEASE_LINE)}"
        f" >> template/README.md.jinja && git commit -q -am {NEXT_TAG} && git tag {NEXT_TAG} )"
    )
    return {"Change the models": add_column, "Updating from the template": release}


def project_script(readme: str, steps: dict[str, str], ports: dict[str, int]) -> str:
    parts = []
    for heading, text in sections(readme):
        if heading in steps:
            parts.append(f"# --- the reader, before '{heading}'\n{steps.pop(heading)}")
        parts += [
            f"# --- README: {heading or '(top)'}",
            *(as_script(b, ports) for b in sh_blocks(text)),
        ]
    assert not steps, f"README sections the test expects are gone: {sorted(steps)}"
    return "\n".join(parts)


def quick_start(template: Path, answers: dict[str, Any]) -> str:
    """The template README's ```sh blocks, with `--data` answers for other variants."""
    script = "\n".join(sh_blocks((template / "README.md").read_text()))
    assert "copier copy" in script, "the quick start no longer runs `copier copy`"
    extra = " ".join(shlex.quote(f"--data={k}={v}") for k, v in answers.items())
    return script.replace("copier copy ", f"copier copy {extra} ", 1) if extra else script


VARIANTS = {
    "sqlite": {},
    "postgresql": {"database": "postgresql"},
    "celery": {"task_queue": "celery"},
}


@pytest.mark.parametrize("variant", list(VARIANTS))
@check("README commands run as written, quick start to copier update")
def test_readme_commands_work_as_written(
    template_clone: Path, tmp_path: Path, request: pytest.FixtureRequest, variant: str
) -> None:
    """Quick start in a tagless clone, then the project README top to bottom."""
    answers = VARIANTS[variant]
    template = tmp_path / "copier-flask-sqlalchemy"
    run(["git", "clone", "--quiet", "--no-tags", template_clone, template], cwd=tmp_path)
    run(["git", "tag", HEAD_TAG], cwd=template)
    ports = {"5000": free_port(), "8000": free_port()}
    env: dict[str, str | None] = {
        **GIT_IDENTITY,
        "FLASK_RUN_PORT": str(ports["5000"]),
        "PORT": str(ports["8000"]),
    }
    rewrites: dict[str, str] = {}
    if answers.get("database") == "postgresql":
        server = request.getfixturevalue("postgres_url")
        host = server.split("@", 1)[1].split("/", 1)[0]
        servers.create_owner(server, PACKAGE)  # what "Start PostgreSQL" has the reader do
        env["DATABASE_URL"] = f"postgresql+psycopg://{PACKAGE}:{PACKAGE}@{host}/{PACKAGE}"
        rewrites["localhost:5432"] = host
    if answers.get("task_queue") == "celery":
        broker = request.getfixturevalue("redis_url")
        env["CELERY_BROKER_URL"] = env["CELERY_RESULT_BACKEND"] = broker
    env = clean_env(env)

    output = bash(quick_start(template, answers), template, env, tmp_path / "quick-start.sh")
    project = tmp_path / "my-shop"
    readme = (project / "README.md").read_text()
    for old, new in rewrites.items():
        readme = readme.replace(old, new)
    script = (
        after_copy_commands(output) + "\n" + project_script(readme, reader_steps(template), ports)
    )
    bash(script, template, env, tmp_path / "project.sh")

    recorded = recorded_answers(project)
    assert recorded["_src_path"] == str(template), (
        "the answers file must name the template absolutely"
    )
    assert recorded["_commit"] == NEXT_TAG, "copier update did not reach the newer release"
    assert NEXT_RELEASE_LINE in (project / "README.md").read_text()
    migrations = [
        p.name for p in (project / "src" / PACKAGE / "migrations" / "versions").glob("*.py")
    ]
    assert any("add_a_column" in name for name in migrations), migrations


@pytest.mark.render
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_readme_without_docker_never_points_at_compose(render: Render, database: str) -> None:
    answers = {"project_name": "My Shop", "database": database, "docker": False}
    readme = (render(answers) / "README.md").read_text()
    assert "compose" not in readme.lower()


@pytest.mark.render
def test_restore_tags_refuses_a_moved_release(template_clone: Path, tmp_path: Path) -> None:
    """A release never moves: a local tag naming another commit is reported, not replaced."""
    clone = tmp_path / "template"
    run(["git", "clone", "--quiet", "--no-tags", template_clone, clone], cwd=tmp_path)
    record = (clone / "releases.toml").read_text()
    tag = re.search(r'^"(v[\d.]+)" = "[0-9a-f]{40}"$', record, re.MULTILINE)
    if tag is None:
        pytest.skip("releases.toml records no release yet")
    run(["git", "tag", tag[1], "HEAD"], cwd=clone)

    proc = run([clone / "bin" / "restore-tags"], cwd=clone, must_succeed=False)

    assert proc.returncode == 1
    assert f"{tag[1]}: the local tag names" in proc.stderr
