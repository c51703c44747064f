"""Running commands with readable failures and a clean environment.

`run` makes subprocess failures readable in pytest's report; `clean_env`
keeps the suite's own pytest/virtualenv state out of a generated project's tools.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

#: Variables that would leak the suite's own pytest/xdist/virtualenv state into
#: a generated project's tools (e.g. PYTEST_XDIST_WORKER makes a nested pytest
#: believe it is an xdist worker).
_LEAKY_PREFIXES = ("PYTEST_", "COV_CORE_", "FLASK_", "CELERY_")
_LEAKY_NAMES = {
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "DATABASE_URL",
    "TEST_DATABASE_URL",
    "SECRET_KEY",
    "REDIS_URL",
}

_OUTPUT_TAIL = 4000


def clean_env(extra: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """The suite's environment without leaky variables, plus `extra` (None unsets)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in _LEAKY_NAMES and not key.startswith(_LEAKY_PREFIXES)
    }
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _tail(text: str) -> str:
    """The end of a long output: where the error usually is."""
    text = text.rstrip()
    if len(text) <= _OUTPUT_TAIL:
        return text
    return "[... cut ...]\n" + text[-_OUTPUT_TAIL:]


def run(
    cmd: Sequence[str | os.PathLike[str]],
    cwd: Path,
    env: Mapping[str, str | None] | None = None,
    timeout: float = 900,
    must_succeed: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a command; when it fails (and `must_succeed`), raise AssertionError with
    its command and output.

    The child gets `clean_env(env)`: the suite's environment minus variables
    that leak pytest or virtualenv state, plus `env`.
    """
    args = [os.fspath(part) for part in cmd]
    shown = " ".join(args)
    try:
        proc = subprocess.run(
            args,
            cwd=cwd,
            env=clean_env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        out = (
            exc.stdout.decode(errors="replace")
            if isinstance(exc.stdout, bytes)
            else exc.stdout or ""
        )
        err = (
            exc.stderr.decode(errors="replace")
            if isinstance(exc.stderr, bytes)
            else exc.stderr or ""
        )
        raise AssertionError(
            f"command timed out after {timeout:g}s: {shown}\n(cwd: {cwd})\n"
            f"--- stdout ---\n{_tail(out)}\n--- stderr ---\n{_tail(err)}"
        ) from None
    if must_succeed and proc.returncode != 0:
        raise AssertionError(
            f"command failed with exit code {proc.returncode}: {shown}\n(cwd: {cwd})\n"
            f"--- stdout ---\n{_tail(proc.stdout)}\n--- stderr ---\n{_tail(proc.stderr)}"
        )
    return proc
