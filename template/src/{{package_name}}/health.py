"""``GET /health``: is the app up, and can it reach its database?"""

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .errors import error_response
from .extensions import db

bp = Blueprint("health", __name__)


@bp.get("/health")
def health() -> Response | tuple[Response, int]:
    """200 when a trivial query succeeds, 503 with the reason when it does not."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        db.session.rollback()
        current_app.logger.warning("Health check failed: %s", error)
        return error_response(503, "database unreachable", database="unavailable")
    finally:
        # Nothing to keep: hand the connection straight back to the pool.
        db.session.close()
    return jsonify(status="ok", database="ok")
