"""Every error answers JSON, and none leaves a broken session behind."""

from flask import Flask, Response, current_app, jsonify
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.http import HTTP_STATUS_CODES

from .extensions import db


def init_app(app: Flask) -> None:
    """Answer HTTP errors and unexpected exceptions with a JSON body."""
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(OperationalError, _database_unavailable)
    app.register_error_handler(InterfaceError, _database_unavailable)
    app.register_error_handler(Exception, _unexpected_error)


def error_response(
    status: int, message: str, **details: object
) -> tuple[Response, int]:
    """The one JSON error shape: ``{"error": ..., "message": ..., ...details}``."""
    name = HTTP_STATUS_CODES.get(status, "error").lower().replace(" ", "_")
    return jsonify({"error": name, "message": message, **details}), status


def _http_error(error: HTTPException) -> tuple[Response, int]:
    return error_response(error.code or 500, error.description or "")


def _database_unavailable(error: Exception) -> tuple[Response, int]:
    """The database is down or unreachable: a 503 the client may retry."""
    db.session.rollback()
    current_app.logger.warning("Database unavailable: %s", error)
    response, status = error_response(503, "database unavailable")
    response.headers["Retry-After"] = "5"
    return response, status


def _unexpected_error(error: Exception) -> tuple[Response, int]:
    # A failed flush leaves the transaction unusable: roll it back at once so
    # the rest of this request, and the next one, get a working session.
    db.session.rollback()
    current_app.logger.exception("Unhandled error", exc_info=error)
    return _http_error(InternalServerError())
