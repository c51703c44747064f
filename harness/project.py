"""A handle on a rendered project installed in a venv: its environment and tools."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.commands import run
from harness.venvs import tool_env, venv_bin


@dataclass(frozen=True)
class Project:
    """A rendered project and the venv it is installed in."""

    path: Path
    venv: Path
    package: str

    @property
    def python(self) -> Path:
        return venv_bin(self.venv, "python")

    def env(self, extra: Mapping[str, str | None] | None = None) -> dict[str, str | None]:
        """Variables for the project's tools: its venv first on PATH, a secret key.

        Bytecode writing is switched back on (some machines set
        PYTHONDONTWRITEBYTECODE): uv installs without .pyc files, and compiling
        SQLAlchemy and friends from source again in every process costs seconds.
        """
        return tool_env(
            self.venv,
            {
                "SECRET_KEY": "benchmark-" + "x" * 32,
                "PYTHONDONTWRITEBYTECODE": None,
                **(extra or {}),
            },
        )

    def run(
        self,
        cmd: Sequence[str | os.PathLike[str]],
        extra: Mapping[str, str | None] | None = None,
        timeout: float = 1800,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in the project's environment; raise with its output on failure."""
        return run(cmd, cwd=cwd or self.path, env=self.env(extra), timeout=timeout)

    def flask(
        self, *args: str, extra: Mapping[str, str | None] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`flask --app <package> ...` from the project's root, as its README says."""
        return self.run([venv_bin(self.venv, "flask"), "--app", self.package, *args], extra=extra)
