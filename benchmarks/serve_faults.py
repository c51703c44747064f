"""Writes through a served app while PostgreSQL fails: what clients were told vs. the rows.

Renders the template with its defaults, serves it with gunicorn (2 gthread
workers x 4 threads) on a private PostgreSQL server, and keeps 4 clients
creating users while the server's backends are killed, the users table is
locked (15 s by default) and the server is stopped and started. Prints, per
run and as medians: requests and statuses, lost writes (a 201 whose row is
missing), phantom writes (a row whose request was answered as failed),
non-JSON 5xx, unanswered requests, the slowest request, seconds from each
fault's end to the next 201, and connections checked out afterwards.

    .venv-test/bin/python -m benchmarks.serve_faults [--runs 3] [--lock-seconds 15]
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import benchmark, servers
from harness.commands import clean_env
from harness.db_faults import writes_under_faults
from harness.gunicorn import Gunicorn
from harness.postgres_control import PostgresControl
from harness.project import Project
from harness.servers import libpq_url

#: Short limits, so each fault shows within seconds (the app's defaults are longer).
TIMEOUTS = {
    "DATABASE_LOCK_TIMEOUT": "2",
    "DATABASE_STATEMENT_TIMEOUT": "5",
    "DATABASE_POOL_TIMEOUT": "2",
    "DATABASE_CONNECT_TIMEOUT": "2",
}
TOTALS = ("lost", "phantom", "non_json_5xx", "unanswered", "checked_out")


def one_run(
    project: Project, pg: PostgresControl, workdir: Path, number: int, lock: float
) -> tuple[dict[str, Any], dict[str, float | None]]:
    """One fresh database and server through every fault: (figures, recovery)."""
    url = servers.fresh_database(pg.url, f"faults{number}")
    project.flask("db", "upgrade", extra={"DATABASE_URL": url})
    env = {"DATABASE_URL": url, "FLASK_POOL_STATUS_ENDPOINT": "true", **TIMEOUTS}
    server = Gunicorn(
        venv=project.venv,
        app=f"{project.package}:create_app()",
        cwd=project.path,
        env=clean_env(project.env(env)),
        log_dir=workdir / f"run{number}",
        workers=2,
        threads=4,
    )
    with server:
        figures, recovery = writes_under_faults(
            server.port, libpq_url(url), pg.restart, lock_seconds=lock
        )
        pools = server.pool_by_worker()
    figures["checked_out"] = sum(body["checked_out"] for body in pools.values())
    return figures, recovery


def main(argv: list[str] | None = None) -> int:
    parser = benchmark.argument_parser(__doc__, postgres=False)
    parser.add_argument("--runs", type=int, default=3, help="runs (medians reported)")
    parser.add_argument("--lock-seconds", type=float, default=15.0, help="how long the lock holds")
    args = parser.parse_args(argv)

    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        project = stack.enter_context(benchmark.rendered_project(args.template))
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tpl-faults-")))
        pg = PostgresControl.attach(stack.enter_context(servers.postgres_server()))
        runs = []
        for number in range(args.runs):
            figures, recovery = one_run(project, pg, workdir, number, args.lock_seconds)
            print(f"run {number + 1}: {figures}; recovery (s): {recovery}", flush=True)
            runs.append((figures, recovery))
    for fault in runs[0][1]:
        seconds = [recovery[fault] for _, recovery in runs]
        known = [s for s in seconds if s is not None]
        value = benchmark.median(known) if len(known) == len(seconds) else None
        shown = "never" if value is None else f"{value:.2f}s"
        ok = value is not None and value <= 5
        print(f"recovery after {fault:<16} median {shown}  (goal <= 5s: {benchmark.verdict(ok)})")
    slowest = benchmark.median([figures["slowest_s"] for figures, _ in runs])
    print(
        f"slowest request              median {slowest:.2f}s"
        f"  (goal <= 8s, lock + pool wait: {benchmark.verdict(slowest <= 8)})"
    )
    for total in TOTALS:
        value = sum(int(figures[total]) for figures, _ in runs)
        print(f"{total:<28} {value}  (goal 0: {benchmark.verdict(value == 0)})")
    print(f"total {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
