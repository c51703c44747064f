"""The benchmark scripts still run: tiny sizes, no speed asserted.

Benchmarks print figures for people to read; speed is never asserted here (a
noisy two-core machine would make such tests flaky). These only keep the
scripts from rotting as the template changes: each must finish and print every
figure line, on PostgreSQL too when its binaries are installed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from harness import servers
from harness.commands import run
from harness.git import REPO_ROOT

NUMBER = r"-?[\d,]+(?:\.\d+)?"


def _run_benchmark(name: str, *args: str) -> str:
    """Run `python -m benchmarks.<name>` from the repository root with the suite's
    interpreter, as its README says; return what it printed."""
    proc = run([sys.executable, "-m", f"benchmarks.{name}", *args], cwd=REPO_ROOT, timeout=600)
    print(proc.stdout)
    return proc.stdout


def _no_postgres() -> list[str]:
    return [] if servers.postgres_bindir() else ["--no-postgres"]


def _backends() -> list[str]:
    return ["SQLite"] + (["PostgreSQL"] if servers.postgres_bindir() else [])


def _section(output: str, title: str) -> str:
    """The lines printed under one backend's title, up to the next blank line."""
    match = re.search(rf"^{title}\b.*?(?=^\s*$|\Z)", output, re.MULTILINE | re.DOTALL)
    assert match, f"no {title} section in:\n{output}"
    return match.group(0)


@pytest.mark.full
def test_seed_throughput_prints_its_figures(template_clone: Path) -> None:
    output = _run_benchmark(
        "seed_throughput",
        "--template",
        str(template_clone),
        "--rows",
        "500",
        "--repeats",
        "1",
        "--slow-rows",
        "100",
        "--memory-counts",
        "1000",
        "5000",
        *_no_postgres(),
    )
    for backend in _backends():
        section = _section(output, backend)
        for label in (
            "commit per row",
            "add_all + one commit",
            "insert() executemany",
            "Core insert(table) execmany",
            "insert_in_batches(rows)",
            "flask seed (in-process)",
        ):
            assert re.search(
                rf"^\s+{re.escape(label)}\s+{NUMBER}\s+{NUMBER}x$", section, re.MULTILINE
            ), f"{backend}: no figure line for {label!r} in:\n{section}"
        assert re.search(r"goal: .*: (MET|MISSED) \(", section), section
    assert re.search(rf"peak RSS ratio 5,000 / 1,000: {NUMBER}", output), output


@pytest.mark.full
def test_isolation_speed_prints_its_figures(template_clone: Path) -> None:
    output = _run_benchmark(
        "isolation_speed",
        *("--template", str(template_clone), "--tests", "20", "--repeats", "1"),
        *_no_postgres(),
    )
    for backend in _backends():
        section = _section(output, backend)
        assert re.search(rf"^\s+no-database baseline\s+{NUMBER}$", section, re.MULTILINE), section
        for label in (
            "project `db` fixture",
            "naive create_all/drop_all",
            "project `db`, empty tests",
        ):
            assert re.search(
                rf"^\s+{re.escape(label)}\s+{NUMBER}\s+{NUMBER}$", section, re.MULTILINE
            ), f"{backend}: no figure line for {label!r} in:\n{section}"
        assert len(re.findall(r"goal: .*: (?:MET|MISSED) \(", section)) == 2, section
        assert re.search(
            rf"fixture alone {NUMBER} ms, the test's INSERT\+commit {NUMBER} ms", section
        ), section


@pytest.mark.full
def test_serve_faults_prints_its_figures(template_clone: Path) -> None:
    if not servers.postgres_bindir():
        pytest.skip("the fault benchmark stops and starts a PostgreSQL server of its own")
    output = _run_benchmark(
        "serve_faults", "--template", str(template_clone), "--runs", "1", "--lock-seconds", "2"
    )
    for fault in ("killed backends", "locked table", "server restart"):
        assert re.search(rf"^recovery after {fault}\s+median ", output, re.MULTILINE), output
    for total in ("lost", "phantom", "non_json_5xx", "unanswered", "checked_out"):
        assert re.search(rf"^{total}\s+\d+  \(goal 0: (MET|MISSED)\)$", output, re.M), output
