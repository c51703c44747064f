"""The JSON API for users, written with 2.0-style ``select()`` only."""

from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .database import unit_of_work
from .errors import error_response
from .extensions import db
from .models import User, username_problem

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/users")
def list_users() -> dict[str, Any]:
    """A page of users, oldest first (``?page=`` and ``?per_page=``, at most 100)."""
    page = db.paginate(select(User).order_by(User.id), max_per_page=100)
    return {
        "items": [user.to_dict() for user in page.items],
        "page": page.page,
        "per_page": page.per_page,
        "total": page.total,
        "pages": page.pages,
    }


@bp.get("/users/<int:user_id>")
def get_user(user_id: int) -> dict[str, Any]:
    """One user, or 404."""
    user = db.get_or_404(User, user_id, description=f"No user with id {user_id}.")
    return user.to_dict()


@bp.post("/users")
def create_user() -> tuple[Response, int] | tuple[Response, int, dict[str, str]]:
    """Create a user from ``{"username": ...}``; 409 when the name is taken."""
    payload = request.get_json(force=True)  # malformed JSON: 400 via errors.py
    problems = _username_problems(payload)
    if problems:
        return error_response(422, "Invalid user.", fields=problems)
    user = User(username=payload["username"])
    try:
        with unit_of_work() as session:
            session.add(user)
    except IntegrityError:
        return error_response(409, f"Username {user.username!r} is already taken.")
    location = url_for(".get_user", user_id=user.id)
    return jsonify(user.to_dict()), 201, {"Location": location}


def _username_problems(payload: Any) -> dict[str, str]:
    """What is wrong with a create-user body; empty when nothing is."""
    if not isinstance(payload, dict):
        return {"body": "must be a JSON object"}
    username = payload.get("username")
    if not isinstance(username, str):
        return {"username": "is required and must be a string"}
    problem = username_problem(username)
    if problem:
        return {"username": problem}
    extra = sorted(set(payload) - {"username"})
    if extra:
        return dict.fromkeys(extra, "is not a known field")
    return {}
