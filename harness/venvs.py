"""Virtualenvs for generated projects, cached between runs.

`VenvPool` keeps virtualenvs keyed by the project's declared dependencies, so
a second run installs only the project.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.commands import run

#: Bump when the layout of cached venvs changes, to stop reusing old ones.
#: 2: dependencies installed with their bytecode compiled (see VenvPool._prepare).
_CACHE_FORMAT = "2"


def read_pyproject(project: Path) -> dict[str, Any]:
    """The generated project's parsed pyproject.toml."""
    with (project / "pyproject.toml").open("rb") as fh:
        return tomllib.load(fh)


#: uv's default resolution: the newest versions the project's ranges allow.
HIGHEST = "highest"
#: The lowest versions the project's own ranges allow (its transitive ones newest).
LOWEST_DIRECT = "lowest-direct"


def deps_key(project: Path, resolution: str = HIGHEST, python: str = sys.executable) -> str:
    """Hash what decides a venv's contents: the declared dependencies, how uv
    resolves them, and the Python."""
    meta = read_pyproject(project).get("project", {})
    material = {
        "format": _CACHE_FORMAT,
        "python": list(sys.version_info[:2]) if python == sys.executable else python,
        "resolution": resolution,
        "requires-python": meta.get("requires-python"),
        "dependencies": sorted(meta.get("dependencies", [])),
        "optional": {
            k: sorted(v) for k, v in sorted(meta.get("optional-dependencies", {}).items())
        },
    }
    blob = json.dumps(material, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def venv_bin(venv: Path, tool: str) -> Path:
    """The path of a console script inside a venv."""
    return venv / "bin" / tool


def tool_env(venv: Path, extra: Mapping[str, str | None] | None = None) -> dict[str, str | None]:
    """Variables that make a project's tools run from its venv, as if activated."""
    env: dict[str, str | None] = {
        "VIRTUAL_ENV": str(venv),
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        # mypy's cache of third-party stubs is reused with the venv.
        "MYPY_CACHE_DIR": str(venv / ".mypy_cache"),
    }
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class VenvPool:
    """Cached virtualenvs for generated projects, shared across runs and workers.

    A venv lives in `<root>/<deps-hash>-<slot>`. Using one takes an exclusive
    lock on its slot for as long as the caller holds it, so parallel workers
    never install into, or test from, the same venv at once: a busy slot makes
    the caller take (or build) the next one.
    """

    root: Path
    uv: Path
    uv_cache: Path
    python: str = sys.executable

    @classmethod
    def in_cache(cls, cache: Path) -> VenvPool:
        """The pool under the suite's cache directory (`cache_root()`), with uv's own cache."""
        from uv import find_uv_bin

        return cls(root=cache / "venvs", uv=Path(find_uv_bin()), uv_cache=cache / "uv")

    def _uv(self, *args: str | os.PathLike[str], cwd: Path) -> None:
        """Run uv with the suite's cache and without downloading Pythons."""
        run(
            [self.uv, *args],
            cwd=cwd,
            env={
                "UV_CACHE_DIR": str(self.uv_cache),
                "UV_PYTHON_DOWNLOADS": "never",
                "UV_NO_PROGRESS": "1",
            },
            timeout=1200,
        )

    @contextlib.contextmanager
    def acquire(
        self, project: Path, resolution: str = HIGHEST, python: str | None = None
    ) -> Iterator[Path]:
        """Hold a venv with `project[dev]` installed (editable) until the block ends.

        `resolution` is uv's (`HIGHEST` or `LOWEST_DIRECT`); `python` an
        interpreter's path (default: the suite's own).
        """
        self.root.mkdir(parents=True, exist_ok=True)
        python = python or self.python
        key = deps_key(project, resolution, python)
        slot = 0
        while True:
            lock_path = self.root / f"{key}-{slot}.lock"
            with lock_path.open("a+") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    slot += 1
                    continue
                try:
                    venv = self.root / f"{key}-{slot}"
                    self._prepare(venv, project, resolution, python)
                    yield venv
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)
                return

    def prune(self, max_age_days: float = 14) -> None:
        """Delete venvs no run has used for a while (old dependency sets)."""
        if not self.root.is_dir():
            return
        cutoff = time.time() - max_age_days * 86400
        for lock_path in self.root.glob("*.lock"):
            venv = lock_path.with_suffix("")
            marker = venv / ".template-tests.json"
            with lock_path.open("a+") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # in use right now
                try:
                    if not marker.exists() or marker.stat().st_mtime < cutoff:
                        shutil.rmtree(venv, ignore_errors=True)
                        lock_path.unlink(missing_ok=True)
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)

    def _prepare(self, venv: Path, project: Path, resolution: str, base_python: str) -> None:
        """Build the venv if needed, then make `project` the installed one."""
        marker = venv / ".template-tests.json"
        name = str(read_pyproject(project)["project"]["name"])
        state: dict[str, str] = {}
        if marker.exists():
            state = json.loads(marker.read_text())
        python = venv / "bin" / "python"
        if not state or not python.exists():
            shutil.rmtree(venv, ignore_errors=True)
            self._uv("venv", "--quiet", "--python", base_python, venv, cwd=self.root)
            # Compiled once here: with PYTHONDONTWRITEBYTECODE set (it is here), every
            # process of a project's suite would otherwise recompile SQLAlchemy & co.
            self._uv(
                "pip",
                "install",
                "--quiet",
                "--compile-bytecode",
                "--resolution",
                resolution,
                "--python",
                python,
                "--editable",
                f"{project}[dev]",
                cwd=project,
            )
        elif state.get("project") != str(project):
            if state.get("name") and state["name"] != name:
                self._uv(
                    "pip", "uninstall", "--quiet", "--python", python, state["name"], cwd=project
                )
            self._uv(
                "pip",
                "install",
                "--quiet",
                "--python",
                python,
                "--no-deps",
                "--reinstall-package",
                name,
                "--editable",
                str(project),
                cwd=project,
            )
        else:
            marker.touch()  # recently used: keep it from prune()
            return
        marker.write_text(json.dumps({"project": str(project), "name": name}))


def run_project_tests(
    venv: Path, project: Path, *args: str, extra: Mapping[str, str | None] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a generated project's own test suite from its venv (`extra`: its environment)."""
    return run(
        [venv_bin(venv, "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=project,
        env=tool_env(venv, extra),
        timeout=900,
    )
