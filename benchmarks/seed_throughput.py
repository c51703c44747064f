"""How fast does a generated project insert users, and does `flask seed` stay flat?

Renders a project from a clean clone of the committed template, installs it,
builds the schema with `flask db upgrade`, then times six ways of inserting N
users with the project's own interpreter and code (see `_seed_runner.py`), on
an SQLite file and on a throwaway PostgreSQL server:

  commit per row       session.add + commit for each user (the slow habit;
                       fewer runs and rows, --slow-repeats/--slow-rows)
  add_all + commit     ORM objects, one transaction
  insert() executemany session.execute(insert(User), rows), one transaction
  Core insert(table)   the same with insert(User.__table__): no ORM bulk bookkeeping
  insert_in_batches    the project's database.insert_in_batches (COPY on PostgreSQL)
  flask seed           the project's `seed --count N` command, in-process

Prints medians of rows/s and how many times faster `flask seed` is than each,
then the peak RSS of `flask seed` subprocesses at two sizes (flat memory).
Run with the suite's interpreter: .venv-test/bin/python -m benchmarks.seed_throughput
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from harness import benchmark
from harness.benchmark import goal_line, median, ratio
from harness.commands import clean_env
from harness.project import Project

RUNNER = Path(__file__).resolve().parent / "_seed_runner.py"

LABELS = {
    "commit_per_row": "commit per row",
    "add_all": "add_all + one commit",
    "executemany": "insert() executemany",
    "core_executemany": "Core insert(table) execmany",
    "insert_in_batches": "insert_in_batches(rows)",
    "seed": "flask seed (in-process)",
}
SQLITE_GOAL_ROWS_PER_S = 100_000
POSTGRES_GOAL_RATIO = 2.0


def migrated_database(project: Project, url: str) -> None:
    """Build the schema the way a user does: `flask db upgrade`."""
    project.flask("db", "upgrade", extra={"DATABASE_URL": url})


def measure(
    project: Project, backend: str, template_url: str, workdir: Path, args: argparse.Namespace
) -> dict[str, list[float]]:
    """Run the in-project timer; return rows/s per method and run."""
    out = workdir / f"{backend}.json"
    project.run(
        [
            project.python,
            RUNNER,
            "--package",
            project.package,
            "--template-url",
            template_url,
            "--workdir",
            workdir,
            "--rows",
            str(args.rows),
            "--repeats",
            str(args.repeats),
            "--slow-repeats",
            str(min(args.slow_repeats, args.repeats)),
            "--slow-rows",
            str(args.slow_rows),
            "--out",
            out,
        ],
        timeout=3600,
    )
    result: dict[str, list[float]] = json.loads(out.read_text())
    return result


def report(
    title: str, results: dict[str, list[float]], args: argparse.Namespace
) -> dict[str, float]:
    """Print one backend's table; return the medians."""
    medians = {name: median(values) for name, values in results.items()}
    slow = min(args.slow_repeats, args.repeats)
    slow_rows = min(args.slow_rows, args.rows)
    print(
        f"\n{title}: {args.rows:,} rows, median of {args.repeats} runs"
        f" (commit per row: {slow} runs of {slow_rows:,} rows, its rate is per row)"
    )
    print(f"  {'method':<30}{'rows/s':>12}{'flask seed vs this':>22}")
    for name, label in LABELS.items():
        value = medians[name]
        print(f"  {label:<30}{value:>12,.0f}{ratio(medians['seed'], value):>22}")
    return medians


def peak_rss(project: Project, url: str, count: int) -> tuple[float, float]:
    """Peak RSS (MiB) and wall seconds of one `flask seed --count N` process."""
    cmd = [
        str(project.venv / "bin" / "flask"),
        "--app",
        project.package,
        "seed",
        "--count",
        str(count),
    ]
    env = clean_env(project.env({"DATABASE_URL": url}))
    start = time.perf_counter()
    process = subprocess.Popen(
        cmd,
        cwd=project.path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    # wait4 gives this child's own rusage (RUSAGE_CHILDREN would mix in every
    # child this script ever waited for).
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({process.returncode}):\n{stderr[-4000:]}")
    return usage.ru_maxrss / 1024, elapsed  # ru_maxrss is in KiB on Linux


def memory_check(
    project: Project, template_file: Path, workdir: Path, small: int, large: int
) -> None:
    """Peak RSS of `flask seed` at two sizes on SQLite: flat memory means a ratio near 1."""
    figures = {}
    for count in (small, large):
        path = workdir / f"memory_{count}.sqlite3"
        path.write_bytes(template_file.read_bytes())
        figures[count] = peak_rss(project, f"sqlite:///{path}", count)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    print("\nflask seed memory (SQLite file, one subprocess each, peak RSS from wait4):")
    for count, (rss, seconds) in figures.items():
        print(
            f"  --count {count:>10,}: peak RSS {rss:7.1f} MiB   {count / seconds:>10,.0f} rows/s incl. start-up"
        )
    print(
        f"  peak RSS ratio {large:,} / {small:,}: {figures[large][0] / figures[small][0]:.2f} (goal ~1: flat)"
    )


def main() -> int:
    parser = benchmark.argument_parser(__doc__)
    parser.add_argument("--rows", type=int, default=20_000, help="users per run (default 20,000)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per method (default 5)")
    parser.add_argument(
        "--slow-repeats",
        type=int,
        default=3,
        help="runs of commit-per-row, the slow one (default 3)",
    )
    parser.add_argument(
        "--slow-rows", type=int, default=2_000, help="rows per commit-per-row run (default 2,000)"
    )
    parser.add_argument(
        "--memory-counts",
        type=int,
        nargs=2,
        default=(100_000, 1_000_000),
        metavar=("SMALL", "LARGE"),
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-RSS check")
    args = parser.parse_args()

    with benchmark.workspace(args, prefix="tpl-seed-") as (project, postgres, workdir):
        sqlite_file = workdir / "template.sqlite3"
        migrated_database(project, f"sqlite:///{sqlite_file}")
        sqlite = report(
            "SQLite (file, WAL)",
            measure(project, "sqlite", f"sqlite:///{sqlite_file}", workdir, args),
            args,
        )
        print(
            goal_line(
                f"flask seed >= {SQLITE_GOAL_ROWS_PER_S:,} rows/s on SQLite",
                sqlite["seed"] >= SQLITE_GOAL_ROWS_PER_S,
                f"{sqlite['seed']:,.0f}",
            )
        )

        if postgres is not None:
            pg_url = benchmark.fresh_postgres_database(postgres, "seed_template")
            migrated_database(project, pg_url)
            pg = report(
                "PostgreSQL (local server, fsync off)",
                measure(project, "postgresql", pg_url, workdir, args),
                args,
            )
            achieved = pg["seed"] / pg["executemany"]
            print(
                goal_line(
                    f"flask seed >= {POSTGRES_GOAL_RATIO:g}x insert() executemany on PostgreSQL",
                    achieved >= POSTGRES_GOAL_RATIO,
                    f"{achieved:.1f}x",
                )
            )

        if not args.no_memory:
            memory_check(project, sqlite_file, workdir, *args.memory_counts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
