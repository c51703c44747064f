"""Times ways of inserting users, inside the generated project's own venv.

`seed_throughput.py` runs this file with the project's interpreter, so every
figure is the generated app's: its `create_app`, its engine settings (SQLite
pragmas, PostgreSQL pool), its `User` model and its `flask seed` command.
Each run gets a fresh copy of an already-migrated database, so every method
starts from the same empty table. Results go to a JSON file as rows/s lists.
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, insert, make_url, select, text

Rows = list[dict[str, Any]]


def _methods(package: str) -> dict[str, Callable[[Any, Rows], None]]:
    """The ways to insert `rows`, each ending with everything committed."""
    models = importlib.import_module(f"{package}.models")
    database = importlib.import_module(f"{package}.database")
    cli = importlib.import_module(f"{package}.cli")
    user = models.User

    def commit_per_row(db: Any, rows: Rows) -> None:
        for row in rows:
            db.session.add(user(**row))
            db.session.commit()

    def add_all(db: Any, rows: Rows) -> None:
        db.session.add_all([user(**row) for row in rows])
        db.session.commit()

    def executemany(db: Any, rows: Rows) -> None:
        db.session.execute(insert(user), rows)
        db.session.commit()

    def core_executemany(db: Any, rows: Rows) -> None:
        # The table, not the class: Core skips the ORM's per-row bulk bookkeeping.
        db.session.execute(insert(user.__table__), rows)
        db.session.commit()

    def insert_in_batches(db: Any, rows: Rows) -> None:
        for _ in database.insert_in_batches(user, rows):
            pass

    def seed_command(db: Any, rows: Rows) -> None:
        # What `flask seed --count N` runs once Flask has loaded the app: the
        # command makes its own usernames, so `rows` only gives the count.
        cli.seed.main(["--count", str(len(rows))], standalone_mode=False)

    return {
        "commit_per_row": commit_per_row,
        "add_all": add_all,
        "executemany": executemany,
        "core_executemany": core_executemany,
        "insert_in_batches": insert_in_batches,
        "seed": seed_command,
    }


class FreshDatabases:
    """Copies of a migrated database, one per run: SQLite files or PostgreSQL TEMPLATE."""

    def __init__(self, template_url: str, workdir: Path) -> None:
        self.template = make_url(template_url)
        self.workdir = workdir
        self.sqlite = self.template.get_backend_name() == "sqlite"
        self.admin = (
            None
            if self.sqlite
            else create_engine(self.template.set(database="postgres"), isolation_level="AUTOCOMMIT")
        )

    def make(self, name: str) -> str:
        if self.sqlite:
            source = Path(str(self.template.database))
            target = self.workdir / f"{name}.sqlite3"
            shutil.copyfile(source, target)
            return f"sqlite:///{target}"
        assert self.admin is not None
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template.database}"'))
        return self.template.set(database=name).render_as_string(hide_password=False)

    def drop(self, name: str) -> None:
        if self.sqlite:
            for suffix in ("", "-wal", "-shm"):
                (self.workdir / f"{name}.sqlite3{suffix}").unlink(missing_ok=True)
            return
        assert self.admin is not None
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def time_one(package: str, method: Callable[[Any, Rows], None], url: str, rows: Rows) -> float:
    """Rows per second for one method on one fresh database (app start-up excluded)."""
    app = importlib.import_module(package).create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "benchmark-" + "x" * 32}
    )
    db = importlib.import_module(f"{package}.extensions").db
    user = importlib.import_module(f"{package}.models").User
    with app.app_context():
        with db.engine.connect() as conn:  # open the pooled connection before timing
            conn.execute(text("SELECT 1"))
        start = time.perf_counter()
        method(db, rows)
        elapsed = time.perf_counter() - start
        db.session.remove()
        count = db.session.scalar(select(func.count()).select_from(user))
        db.session.remove()
        db.engine.dispose()
    if count != len(rows):
        raise SystemExit(f"expected {len(rows)} users after the run, found {count}")
    return len(rows) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--package", required=True)
    parser.add_argument("--template-url", required=True, help="a migrated, empty database to copy")
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--repeats", type=int, required=True)
    parser.add_argument("--slow-repeats", type=int, required=True, help="runs of commit-per-row")
    parser.add_argument("--slow-rows", type=int, required=True, help="rows per commit-per-row run")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    methods = _methods(args.package)
    databases = FreshDatabases(args.template_url, args.workdir)
    results: dict[str, list[float]] = {name: [] for name in methods}
    # Round-robin over the methods, so a noisy moment hits all of them alike.
    for rep in range(args.repeats):
        for name, method in methods.items():
            count = args.rows
            if name == "commit_per_row":
                if rep >= args.slow_repeats:
                    continue
                count = min(args.slow_rows, args.rows)
            run_name = f"bench_{name}_{rep}"
            rows = [{"username": f"bench-{rep}-{i}"} for i in range(count)]
            url = databases.make(run_name)
            try:
                results[name].append(time_one(args.package, method, url, rows))
            finally:
                databases.drop(run_name)
    args.out.write_text(json.dumps(results))


if __name__ == "__main__":
    main()
