"""``/api/users``: the users resource, written with 2.0-style ``select()`` only."""

from typing import Any

from flask import Blueprint, Response, jsonify, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .database import unit_of_work
from .errors import error_response
from .extensions import db
from .models import User
from .openapi import documented
from .resources import dump, page_of, read_body
from .schemas.common import Page, PageQuery
from .schemas.user import UserCreate, UserOut

bp = Blueprint("users", __name__, url_prefix="/api/users")


@bp.get("")
@documented(response=Page[UserOut], query=PageQuery)
def list_users() -> dict[str, Any]:
    """A page of users, oldest first."""
    return page_of(select(User).order_by(User.id), UserOut)


@bp.get("/<id:user_id>")
@documented(response=UserOut, errors=(404,))
def get_user(user_id: int) -> dict[str, Any]:
    """One user."""
    return dump(UserOut, find_user(user_id))


@bp.post("")
@documented(status=201, response=UserOut, body=UserCreate, errors=(409,))
def create_user() -> tuple[Response, int] | tuple[Response, int, dict[str, str]]:
    """Create a user; 409 when the name is taken."""
    new = read_body(UserCreate)
    user = User(username=new.username)
    try:
        with unit_of_work() as session:
            session.add(user)
    except IntegrityError:
        return error_response(409, f"Username {new.username!r} is already taken.")
    location = url_for(".get_user", user_id=user.id)
    return jsonify(dump(UserOut, user)), 201, {"Location": location}


@bp.delete("/<id:user_id>")
@documented(status=204, errors=(404,))
def delete_user(user_id: int) -> tuple[str, int]:
    """Delete a user; the database deletes the user's notes with it."""
    user = find_user(user_id)
    with unit_of_work() as session:
        session.delete(user)
    return "", 204


def find_user(user_id: int) -> User:
    """The user with this id, or a 404 that says which id."""
    return db.get_or_404(User, user_id, description=f"No user with id {user_id}.")
