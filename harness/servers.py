"""Real PostgreSQL servers for the suite, on free loopback ports (Redis: redis_server.py).

Generated projects promise to work against real servers, so their suites are
run against real ones: each pytest process (each xdist worker) starts its own
throwaway server in a private temporary directory, on a port the kernel picked,
so parallel workers never collide.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from harness.processes import (
    START_ATTEMPTS,
    ServerUnavailable,
    free_port,
    private_tmpdir,
)

#: The unprivileged account that runs PostgreSQL when the suite runs as root
#: (initdb and postgres refuse to run as root).
POSTGRES_USER = "postgres"

# --------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------


def postgres_bindir() -> Path | None:
    """Find the newest PostgreSQL server binaries (Debian layout first)."""

    def major(path: str) -> int:
        match = re.search(r"/postgresql/(\d+)/", path)
        return int(match.group(1)) if match else 0

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=major)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def postgres_account() -> pwd.struct_passwd | None:
    """The account to run PostgreSQL as: None means "as ourselves" (not root).

    As root, use the `postgres` system user the Debian package creates, and
    create an unprivileged one if it is missing.
    """
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(POSTGRES_USER)
    except KeyError:
        subprocess.run(
            [
                shutil.which("useradd") or "/usr/sbin/useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                POSTGRES_USER,
            ],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(POSTGRES_USER)


def as_account(cmd: list[str], account: pwd.struct_passwd | None) -> list[str]:
    """Prefix a command so it runs as the server account."""
    if account is None:
        return cmd
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"
    return [runuser, "-u", account.pw_name, "--", *cmd]


def _run_quiet(cmd: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a server-management command, keeping its output for error messages."""
    return subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Run a throwaway PostgreSQL server; yield its SQLAlchemy URL.

    Trust authentication on 127.0.0.1 only, and durability switched off
    (fsync, synchronous_commit, full_page_writes): the data dies with the run.
    """
    bindir = postgres_bindir()
    if bindir is None:
        raise ServerUnavailable(
            "PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/initdb, "
            "no initdb on PATH); bin/test installs them with apt-get when run as root"
        )
    account = postgres_account()
    base = private_tmpdir("tpl-postgres-")
    if account is not None:
        os.chown(base, account.pw_uid, account.pw_gid)
    data = base / "data"
    log = base / "server.log"
    env_cmd = ["env", "LC_ALL=C", "LANG=C"]
    initdb = _run_quiet(
        as_account(
            [
                *env_cmd,
                str(bindir / "initdb"),
                "--pgdata",
                str(data),
                "--username",
                "postgres",
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",
                "--no-instructions",
            ],
            account,
        ),
        cwd=base,
        timeout=120,
    )
    if initdb.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(
            f"initdb failed ({initdb.returncode}):\n{initdb.stdout}\n{initdb.stderr}"
        )

    pg_ctl = str(bindir / "pg_ctl")
    port = 0
    started = False
    errors: list[str] = []
    for _ in range(START_ATTEMPTS):
        port = free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {base} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        start = _run_quiet(
            as_account(
                [
                    *env_cmd,
                    pg_ctl,
                    "start",
                    "--wait",
                    "--timeout=60",
                    "--pgdata",
                    str(data),
                    "--log",
                    str(log),
                    "-o",
                    options,
                ],
                account,
            ),
            cwd=base,
            timeout=90,
        )
        if start.returncode == 0:
            started = True
            break
        # Most likely another process took the port between probe and bind.
        errors.append(
            start.stdout + start.stderr + (log.read_text(errors="replace") if log.exists() else "")
        )
    if not started:
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError("PostgreSQL did not start:\n" + "\n---\n".join(errors)[-4000:])
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        _run_quiet(
            as_account(
                [pg_ctl, "stop", "--pgdata", str(data), "--mode", "immediate", "--wait"], account
            ),
            cwd=base,
            timeout=60,
        )
        shutil.rmtree(base, ignore_errors=True)


def libpq_url(sqlalchemy_url: str) -> str:
    """Turn `postgresql+psycopg://…` into the plain URI psycopg understands."""
    parts = urlsplit(sqlalchemy_url)
    return urlunsplit(parts._replace(scheme="postgresql"))


def fresh_database(postgres_url: str, name: str) -> str:
    """Create a new, empty database on the server; return its SQLAlchemy URL.

    Each generated project's suite gets a database of its own, so runs never
    see each other's tables. The name gets a random suffix, so asking twice for
    the same name still gives two databases.
    """
    import psycopg
    from psycopg import sql

    slug = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_")[:40] or "db"
    dbname = f"{slug}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(libpq_url(postgres_url), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    parts = urlsplit(postgres_url)
    return urlunsplit(parts._replace(path=f"/{dbname}"))


def create_owner(postgres_url: str, name: str, password: str | None = None) -> None:
    """A login role that may create databases, with a database it owns, both
    named `name` (password `password`, else `name`), as a generated README has
    the reader make them; made afresh when another test on this server made
    them already."""
    import psycopg
    from psycopg import sql

    role = sql.Identifier(name)
    with psycopg.connect(libpq_url(postgres_url), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(role))
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(role))
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                role, sql.Literal(password or name)
            )
        )
        conn.execute(sql.SQL("CREATE DATABASE {0} OWNER {0}").format(role))
