"""``flask`` commands. Each runs inside an app context that Flask pushes for it."""

import secrets
from collections.abc import Iterator
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from .database import insert_in_batches, unit_of_work
from .doctor import doctor
from .extensions import db
from .models import Note, User
from .models.user import USERNAME_MAX_LENGTH
from .schemas.user import UserCreate

users = AppGroup("users", help="Look after user accounts.")


def init_app(app: Flask) -> None:
    """Register the commands and what ``flask shell`` preloads."""
    app.cli.add_command(seed)
    app.cli.add_command(users)
    app.cli.add_command(doctor)
    app.shell_context_processor(
        lambda: {"db": db, "User": User, "Note": Note, "select": select}
    )


@click.command()
@click.option(
    "--count",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="How many users to create.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Rows per transaction.",
)
@click.option(
    "--prefix",
    default=None,
    help="Username prefix (numbers follow it); random unless given.",
)
@with_appcontext
def seed(count: int, batch_size: int, prefix: str | None) -> None:
    """Bulk-insert made-up users, one transaction per batch."""
    if prefix is not None and len(prefix) + len(str(count)) > USERNAME_MAX_LENGTH:
        raise click.BadParameter(
            f"too long: usernames are at most {USERNAME_MAX_LENGTH} characters",
            param_hint="--prefix",
        )
    done = 0
    try:
        with click.progressbar(length=count, label="Seeding users") as bar:
            for inserted in insert_in_batches(
                User, _made_up_users(count, prefix), batch_size
            ):
                done += inserted
                bar.update(inserted)
    except KeyboardInterrupt:
        click.echo(
            f"\nInterrupted: {done} users were committed; the batch in progress"
            " was rolled back.",
            err=True,
        )
        raise click.exceptions.Exit(130) from None
    except SQLAlchemyError as error:
        raise click.ClickException(
            f"Seeding stopped: {_reason(error)}."
            f" {done} users were committed before the failed batch, which was"
            " rolled back."
        ) from error
    click.echo(f"Created {done} users.")


@users.command("create")
@click.argument("username")
def create_user(username: str) -> None:
    """Create one user."""
    try:
        UserCreate(username=username)  # the API's rules, checked in one place
    except ValidationError as error:
        problem = error.errors(include_url=False)[0]["msg"]
        raise click.BadParameter(problem, param_hint="USERNAME") from None
    try:
        with unit_of_work() as session:
            session.add(User(username=username))
    except SQLAlchemyError as error:
        raise click.ClickException(
            f"Could not create {username!r}: {_reason(error)}."
        ) from error
    click.echo(f"Created user {username!r}.")


@users.command("count")
def count_users() -> None:
    """Print how many users there are."""
    click.echo(db.session.scalar(select(func.count()).select_from(User)))


def _made_up_users(count: int, prefix: str | None) -> Iterator[dict[str, Any]]:
    """Usernames made lazily, so memory stays flat for any count."""
    prefix = prefix or f"user-{secrets.token_hex(4)}-"
    for number in range(count):
        yield {"username": f"{prefix}{number}"}


def _reason(error: SQLAlchemyError) -> str:
    """The database's own words, without SQLAlchemy's long preamble."""
    original = getattr(error, "orig", None)
    return f"{type(original or error).__name__}: {original or error}"
