"""The checks behind ``flask doctor``, one function per known gotcha.

Each reads the app's configuration (never relying on ``create_app`` to refuse
it) and, where only the server can tell, asks the live database; it returns a
:class:`Verdict` and may raise when the database cannot be reached.
"""

import os
from dataclasses import dataclass
from typing import Any, Literal

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, current_app
from sqlalchemy import Connection, Engine, text

from .config import KNOWN_WEAK_SECRETS

Status = Literal["ok", "warn", "fail", "skip"]

#: gunicorn.conf.py reads the same variables, with the same defaults.
DEFAULT_WORKERS = 2
DEFAULT_THREADS = 4
#: Connections kept free for migrations, consoles and monitoring, on top of the
#: server's own ``superuser_reserved_connections``.
DEFAULT_RESERVED = 5


@dataclass(frozen=True)
class Verdict:
    """What one check found: the status, why, and how to fix it."""

    status: Status
    why: str
    fix: str = ""


def ok(why: str) -> Verdict:
    return Verdict("ok", why)


def skip(why: str) -> Verdict:
    return Verdict("skip", why)


def fail(why: str, fix: str) -> Verdict:
    return Verdict("fail", why, fix)


def _engine_options() -> dict[str, Any]:
    options: dict[str, Any] = current_app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {})
    return options


def _is_server(engine: Engine) -> bool:
    return engine.dialect.name != "sqlite"


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() else default


def _pooler() -> str:
    return os.environ.get("DATABASE_POOLER", "").strip().lower()


# --------------------------------------------------------------------------
# The checks, in the order they are reported
# --------------------------------------------------------------------------


def check_track_modifications(app: Flask, engine: Engine) -> Verdict:
    if app.config.get("SQLALCHEMY_TRACK_MODIFICATIONS"):
        return fail(
            "SQLALCHEMY_TRACK_MODIFICATIONS is on: every change is recorded for"
            " signals, costing memory and time on each flush",
            "remove SQLALCHEMY_TRACK_MODIFICATIONS (off by default)",
        )
    return ok("off")


def check_pool_pre_ping(app: Flask, engine: Engine) -> Verdict:
    if not _is_server(engine):
        return skip("SQLite has no server to lose")
    if not _engine_options().get("pool_pre_ping"):
        return fail(
            "pool_pre_ping is off: the first requests after a database restart fail",
            "set pool_pre_ping=True in SQLALCHEMY_ENGINE_OPTIONS",
        )
    return ok("on")


def check_timeouts(app: Flask, engine: Engine) -> Verdict:
    if not _is_server(engine):
        return skip("SQLite waits through busy_timeout (see sqlite_pragmas)")
    connect_args = _engine_options().get("connect_args", {})
    missing = []
    connect_timeout = connect_args.get("connect_timeout")
    if not (connect_timeout or "connect_timeout" in engine.url.normalized_query):
        missing.append("connect_timeout")
    with engine.connect() as connection:
        for setting in ("statement_timeout", "lock_timeout"):
            if connection.exec_driver_sql(f"SHOW {setting}").scalar() in ("0", None):
                missing.append(setting)
    if missing:
        return fail(
            f"not set on the live connection: {', '.join(missing)}; a stuck query or"
            " lock holds a worker forever",
            "set connect_args connect_timeout and options='-c statement_timeout=..."
            " -c lock_timeout=...' in SQLALCHEMY_ENGINE_OPTIONS",
        )
    return ok("connect, statement and lock timeouts are set")


def pool_budget_problem(
    *,
    workers: int,
    threads: int,
    pool_size: int,
    max_overflow: int,
    max_connections: int | None,
    reserved: int = 0,
) -> str | None:
    """Why one replica's pools do not fit the server, or None when they do."""
    per_process = pool_size + max_overflow
    if per_process < threads:
        return (
            f"pool {pool_size}+{max_overflow} per process is smaller than"
            f" {threads} threads: requests wait for connections"
        )
    if max_connections is None:
        return None  # no server limit to meet (SQLite), or PgBouncer's to size
    wanted = workers * per_process
    budget = max_connections - reserved
    if wanted > budget:
        return (
            f"{workers} workers x {per_process} connections = {wanted}, over the"
            f" server's budget of {budget} (max_connections {max_connections}"
            f" - {reserved} reserved)"
        )
    return None


def check_pool_budget(app: Flask, engine: Engine) -> Verdict:
    options = _engine_options()
    if "pool_size" not in options:
        return skip("no connection pool (one shared connection)")
    workers = _env_int("WEB_CONCURRENCY", DEFAULT_WORKERS)
    # Request threads and tasks.submit() threads may each hold a connection.
    threads = _env_int("GUNICORN_THREADS", DEFAULT_THREADS)
    threads += int(app.config.get("TASKS_MAX_WORKERS", 0))
    # gunicorn.conf.py sizes the pool to them unless DATABASE_POOL_SIZE is set.
    sized_by_hand = "DATABASE_POOL_SIZE" in os.environ
    pool_size = int(options["pool_size"]) if sized_by_hand else threads
    max_overflow = int(options.get("max_overflow", 10))  # SQLAlchemy's default
    max_connections: int | None = None
    reserved = 0
    if _is_server(engine) and _pooler() != "pgbouncer":
        with engine.connect() as connection:
            max_connections = int(_show(connection, "max_connections"))
            reserved = int(_show(connection, "superuser_reserved_connections"))
        reserved += _env_int("DATABASE_RESERVED_CONNECTIONS", DEFAULT_RESERVED)
    problem = pool_budget_problem(
        workers=workers,
        threads=threads,
        pool_size=pool_size,
        max_overflow=max_overflow,
        max_connections=max_connections,
        reserved=reserved,
    )
    if problem:
        return fail(
            problem,
            "DATABASE_POOL_SIZE >= GUNICORN_THREADS, and WEB_CONCURRENCY x pool"
            " within max_connections (README: Running many replicas)",
        )
    used = f"{workers} workers x {pool_size}+{max_overflow} connections"
    if max_connections is None:
        return ok(f"{used} for {threads} threads each")
    return ok(f"{used} fit {max_connections - reserved} of {max_connections}")


def check_pgbouncer(app: Flask, engine: Engine) -> Verdict:
    if engine.dialect.name != "postgresql":
        return skip("not PostgreSQL")
    with engine.connect():
        pass  # an unreachable database is reported as such, not as "no PgBouncer"
    detected = behind_pgbouncer(engine)
    prepares = _engine_options().get("connect_args", {}).get("prepare_threshold", 5)
    if _pooler() == "pgbouncer":
        if prepares is not None:
            return fail(
                "DATABASE_POOLER=pgbouncer, yet psycopg prepares statements",
                "leave connect_args['prepare_threshold'] to the pooler setting (None)",
            )
        return ok("DATABASE_POOLER=pgbouncer: no prepared statements")
    if detected:
        return fail(
            "PgBouncer answers on this address, but DATABASE_POOLER is not set:"
            ' "prepared statement does not exist" errors under transaction pooling',
            "set DATABASE_POOLER=pgbouncer",
        )
    return ok("no PgBouncer in front of the database")


def behind_pgbouncer(engine: Engine) -> bool:
    """Whether PgBouncer listens where the app connects.

    PgBouncer answers for a virtual database named ``pgbouncer`` (its admin
    console): it lets admins in (``SHOW VERSION`` names it) and tells others
    "not allowed", where PostgreSQL itself says that database does not exist.
    """
    import psycopg

    url = engine.url.set(drivername="postgresql", database="pgbouncer")
    try:
        with psycopg.connect(
            url.render_as_string(hide_password=False),
            autocommit=True,
            prepare_threshold=None,
            connect_timeout=5,
        ) as console:
            version = console.execute("SHOW VERSION").fetchone()
    except psycopg.OperationalError as error:
        return "not allowed" in str(error)
    except psycopg.Error:
        return False  # a real database that happens to be called "pgbouncer"
    return version is not None and "pgbouncer" in str(version[0]).lower()


def check_sqlite_pragmas(app: Flask, engine: Engine) -> Verdict:
    if _is_server(engine):
        return skip("not SQLite")
    in_memory = engine.url.database in (None, "", ":memory:")
    wanted = {"foreign_keys": 1, "busy_timeout": "> 0"}
    if not in_memory:
        wanted["journal_mode"] = "wal"
    with engine.connect() as connection:
        live = {key: _pragma(connection, key) for key in wanted}
    wrong = [
        f"{key}={live[key]}"
        for key, value in wanted.items()
        if (live[key] <= 0 if value == "> 0" else live[key] != value)
    ]
    if wrong:
        return fail(
            f"live connection has {', '.join(wrong)}: foreign keys unenforced,"
            ' or "database is locked" under concurrent writers',
            "configure each connection (database.py) with foreign_keys=ON,"
            " journal_mode=WAL and a busy timeout",
        )
    return ok(", ".join(f"{key}={live[key]}" for key in wanted))


def check_migrations(app: Flask, engine: Engine) -> Verdict:
    config = app.extensions["migrate"].migrate.get_config()
    heads = set(ScriptDirectory.from_config(config).get_heads())
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    if current != heads:
        return fail(
            f"database at {sorted(current) or 'no revision'}, code at {sorted(heads)}",
            f"flask --app {app.import_name} db upgrade",
        )
    return ok(f"at head {', '.join(sorted(heads))}")


def check_production_safety(app: Flask, engine: Engine) -> Verdict:
    """Debug off, and a strong SECRET_KEY from the environment.

    The key is read where production sets it (``SECRET_KEY`` or
    ``FLASK_SECRET_KEY``), not from ``app.config``: commands that need no key
    may fill the config with a random one, which would pass for a real one.
    """
    if app.debug:
        return Verdict(
            "warn",
            "debug is on: fine on a laptop, never in production (it runs code sent"
            " to the debugger)",
            "unset FLASK_DEBUG where the app is served",
        )
    if app.testing:
        return skip("TESTING is on")
    key = os.environ.get("SECRET_KEY") or os.environ.get("FLASK_SECRET_KEY") or ""
    if not key:
        return fail("SECRET_KEY is not set in the environment", _KEY_FIX)
    if key.lower() in KNOWN_WEAK_SECRETS or len(key) < 16:
        return fail("SECRET_KEY is well known or short", _KEY_FIX)
    return ok("debug off, SECRET_KEY strong")


_KEY_FIX = "SECRET_KEY=$(python -c 'import secrets; print(secrets.token_hex(32))')"


def _show(connection: Connection, setting: str) -> str:
    return str(connection.exec_driver_sql(f"SHOW {setting}").scalar())


def _pragma(connection: Connection, pragma: str) -> Any:
    return connection.execute(text(f"PRAGMA {pragma}")).scalar()
