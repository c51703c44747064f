"""How a generated app holds up when served as in production: gunicorn, concurrent load.

Renders the template with its defaults, installs the project, migrates and
seeds a database, serves it with gunicorn (2 sync workers; then 2 gthread
workers x 4 threads with a pool of 2 and no overflow, so threads must queue
for connections) and drives it with a closed-loop load generator on loopback.
Prints figures: requests/s, p50/p99 latency (medians of --runs rounds, the
scenarios of a mode interleaved round by round), the
read-by-key/ceiling ratio, and goal lines (no 5xx, nothing left checked out).

The ceiling is a separate four-line Flask app (one JSON route, no database)
served with the same gunicorn settings; the generated app's own 404 path
(no database work) is shown beside it.

gunicorn writes an access log (to a file), as the template's Dockerfile has
it do in production; the log's pid field is also how the pool check finds
out which worker answered.

The load generator is Python threads on raw sockets in this process, on the
same cores as gunicorn: its CPU share is printed, and absolute figures are
lower than a native generator would show. Ratios are what to compare.

    .venv-test/bin/python -m benchmarks.serve_load [--runs 3] [--duration 3]
"""

from __future__ import annotations

import contextlib
import os
import resource
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.serve_load_figures import HEADER, LEGEND, Figures, summarize, table_row
from benchmarks.serve_load_plans import (
    MODES,
    SEED_PREFIX,
    SEEDED_USERS,
    Mode,
    make_plan_insert,
    make_plan_mixed,
    plan_app_404,
    plan_ceiling,
    plan_read,
)
from harness import benchmark, load
from harness.commands import clean_env
from harness.gunicorn import Gunicorn
from harness.project import Project

BARE_APP = textwrap.dedent(
    '''
    """The ceiling: Flask with one JSON route and no database."""
    from flask import Flask

    app = Flask(__name__)


    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"status": "ok"}
    '''
)


# --------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """One kind of load on one running server."""

    server: Gunicorn
    mode: Mode
    database: str
    name: str
    plan: load.Plan


@dataclass
class Bench:
    """Shared settings and the collected figures."""

    project: Project
    workdir: Path
    runs: int
    duration: float
    concurrency: int
    max_requests: int
    figures: list[Figures] = field(default_factory=list)
    pool_lines: list[tuple[str, bool]] = field(default_factory=list)

    def env(self, extra: Mapping[str, str]) -> dict[str, str]:
        """The project's tool environment, cleaned of the caller's leaky variables."""
        return clean_env(self.project.env({"FLASK_POOL_STATUS_ENDPOINT": "true", **extra}))

    @contextlib.contextmanager
    def serve(
        self, mode: Mode, app: str, cwd: Path, label: str, extra: Mapping[str, str]
    ) -> Iterator[Gunicorn]:
        """gunicorn with the mode's settings, logs under the work dir."""
        server = Gunicorn(
            venv=self.project.venv,
            app=app,
            cwd=cwd,
            env=self.env({**mode.pool_env, **extra}),
            log_dir=self.workdir / "logs" / f"{mode.name}-{label}",
            workers=mode.workers,
            threads=mode.threads,
        )
        with server:
            yield server

    def measure(self, scenarios: list[Scenario]) -> None:
        """Warm each scenario up, then run them round-robin, `runs` rounds.

        Round-robin rather than one scenario after another: on a shared
        machine the background load drifts, and a ratio between two scenarios
        is only fair if both were measured under the same drift.
        """
        for scenario in scenarios:
            load.run_load(
                scenario.server.port,
                scenario.plan,
                concurrency=self.concurrency,
                duration=0.5,
                max_requests=2000,
                seed=99,
            )
        figures = [Figures(s.mode.name, s.database, s.name, [], [], []) for s in scenarios]
        for number in range(self.runs):
            for scenario, figure in zip(scenarios, figures, strict=True):
                server = scenario.server
                before = resource.getrusage(resource.RUSAGE_SELF)
                server_before = server.workers_cpu_seconds()
                result = load.run_load(
                    server.port,
                    scenario.plan,
                    concurrency=self.concurrency,
                    duration=self.duration,
                    max_requests=self.max_requests,
                    seed=number,
                )
                after = resource.getrusage(resource.RUSAGE_SELF)
                server_used = server.workers_cpu_seconds() - server_before
                used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                figure.runs.append(result)
                figure.cpu_share.append(used / result.elapsed if result.elapsed else 0.0)
                figure.server_cpu.append(
                    server_used * 1000 / result.requests if result.requests else 0.0
                )
        for figure in figures:
            self.figures.append(figure)
            print(table_row(figure), flush=True)

    def check_pool(self, server: Gunicorn, mode: Mode, database: str) -> None:
        """After the load: every live worker must have nothing checked out."""
        by_worker = server.pool_by_worker()
        workers = server.worker_pids()
        reached = set(by_worker)
        values = {pid: body.get("checked_out") for pid, body in by_worker.items()}
        ok = reached == workers and all(v == 0 for v in values.values())
        shown = ", ".join(f"pid {pid}: {value}" for pid, value in sorted(values.items()))
        missing = workers - reached
        note = f"; not reached: {sorted(missing)}" if missing else ""
        self.pool_lines.append(
            (f"{mode.name:<8} {database:<10} checked_out after load: {shown}{note}", ok)
        )


def serve_database(
    bench: Bench, stack: contextlib.ExitStack, mode: Mode, database: str, url: str
) -> list[Scenario]:
    """Migrate and seed a fresh database, serve the app on it; its scenarios."""
    extra = {"DATABASE_URL": url}
    bench.project.flask("db", "upgrade", extra=extra)
    bench.project.flask("seed", "--count", str(SEEDED_USERS), "--prefix", SEED_PREFIX, extra=extra)
    app = f"{bench.project.package}:create_app()"
    server = stack.enter_context(bench.serve(mode, app, bench.project.path, database, extra))
    token = f"{mode.name}{database}{int(time.time())}"
    scenarios = [
        Scenario(server, mode, database, "read-by-key", plan_read),
        Scenario(server, mode, database, "insert", make_plan_insert(token)),
        Scenario(server, mode, database, "mixed valid/invalid", make_plan_mixed(token)),
    ]
    if database == "sqlite":
        scenarios.insert(0, Scenario(server, mode, "-", "app 404 path (no DB)", plan_app_404))
    return scenarios


def run_mode(bench: Bench, mode: Mode, bare: Path, pg_server: str | None) -> None:
    """Everything for one gunicorn mode: the servers all up at once, runs interleaved."""
    print(f"-- {mode.name}: {mode.describe()}", flush=True)
    with contextlib.ExitStack() as stack:
        ceiling = stack.enter_context(bench.serve(mode, "bare_app:app", bare, "bare", {}))
        scenarios = [Scenario(ceiling, mode, "-", "ceiling (bare Flask)", plan_ceiling)]
        databases = [("sqlite", f"sqlite:///{bench.workdir / f'{mode.name}.sqlite3'}")]
        if pg_server is not None:
            databases.append(
                ("postgresql", benchmark.fresh_postgres_database(pg_server, f"serve_{mode.name}"))
            )
        for database, url in databases:
            scenarios += serve_database(bench, stack, mode, database, url)
        bench.measure(scenarios)
        app_servers = {s.server.port: s for s in scenarios if s.database != "-"}
        for scenario in app_servers.values():
            bench.check_pool(scenario.server, mode, scenario.database)


def machine_state() -> str:
    """Load average and CPU pressure: figures from a busy machine are not comparable."""
    state = f"load average {os.getloadavg()[0]:.2f}"
    with contextlib.suppress(OSError, ValueError, IndexError):
        first = Path("/proc/pressure/cpu").read_text().split("\n")[0]
        fields = dict(item.split("=") for item in first.split()[1:])
        state += f", CPU pressure {float(fields['avg60']):.0f}% (avg60)"
    return state


def main(argv: list[str] | None = None) -> int:
    parser = benchmark.argument_parser(__doc__)
    parser.add_argument("--runs", type=int, default=3, help="runs per scenario (median reported)")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per run (upper bound)")
    parser.add_argument(
        "--max-requests", type=int, default=40_000, help="requests per run (upper bound)"
    )
    parser.add_argument("--concurrency", type=int, default=8, help="client connections")
    args = parser.parse_args(argv)

    started = time.monotonic()
    print(
        f"serve_load: {os.cpu_count()} CPUs, {machine_state()} at start; "
        f"generator: {args.concurrency} Python threads in this process, same cores as gunicorn",
        flush=True,
    )
    with contextlib.ExitStack() as stack:
        project = stack.enter_context(benchmark.rendered_project(args.template))
        workdir = Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="tpl-serve-"))
        ).resolve()
        pg_server = stack.enter_context(benchmark.maybe_postgres(not args.no_postgres))
        bench = Bench(
            project, workdir, args.runs, args.duration, args.concurrency, args.max_requests
        )
        bare = workdir / "bare"
        bare.mkdir()
        (bare / "bare_app.py").write_text(BARE_APP)
        print(LEGEND)
        print(HEADER, flush=True)
        for mode in MODES:
            run_mode(bench, mode, bare, pg_server)
        summarize(bench.figures, bench.pool_lines, bench.runs, bench.concurrency)
    print(
        f"\n{machine_state()} at end; total {time.monotonic() - started:.0f}s "
        f"(SQLite ignores DATABASE_POOL_SIZE/MAX_OVERFLOW: the template sets pool sizes for servers only)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
