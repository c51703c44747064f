"""``flask doctor``: check the running configuration against the known gotchas.

One line per check (``ok``, ``warn``, ``fail`` or ``skip``, why, and how to fix
it); any failure makes the command exit 1, so a release step or CI job can run
it before serving. The checks themselves live in :mod:`.doctor_checks`.
"""

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import Engine

from .doctor_checks import (
    Status,
    Verdict,
    check_migrations,
    check_pgbouncer,
    check_pool_budget,
    check_pool_pre_ping,
    check_production_safety,
    check_sqlite_pragmas,
    check_timeouts,
    check_track_modifications,
    fail,
)
from .extensions import db


@dataclass(frozen=True)
class Finding:
    """A verdict under its check's name: one line of the report."""

    name: str
    status: Status
    why: str
    fix: str


CHECKS: tuple[Callable[[Flask, Engine], Verdict], ...] = (
    check_track_modifications,
    check_pool_pre_ping,
    check_timeouts,
    check_pool_budget,
    check_pgbouncer,
    check_sqlite_pragmas,
    check_migrations,
    check_production_safety,
)


def run_checks(app: Flask) -> list[Finding]:
    """Every check's finding; a check that cannot run (database down) fails."""
    findings = []
    for check in CHECKS:
        name = check.__name__.removeprefix("check_")
        try:
            verdict = check(app, db.engine)
        except Exception as error:  # reported as a failure, not raised
            reason = f"{type(error).__name__}: {error}".splitlines()[0]
            verdict = fail(f"could not check: {reason}", "check DATABASE_URL")
        findings.append(Finding(name, **asdict(verdict)))
    return findings


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@with_appcontext
def doctor(as_json: bool) -> None:
    """Check the configuration against known gotchas; exit 1 on any failure."""
    findings = run_checks(current_app)
    if as_json:
        click.echo(json.dumps([asdict(finding) for finding in findings], indent=2))
    else:
        width = max(len(finding.name) for finding in findings)
        for item in findings:
            fix = f"  -> {item.fix}" if item.fix and item.status != "ok" else ""
            click.echo(f"{item.name:<{width}}  {item.status:<4}  {item.why}{fix}")
    if any(finding.status == "fail" for finding in findings):
        raise SystemExit(1)
