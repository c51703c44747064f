"""Every error answers JSON, and none leaves a broken session behind.

A 503 with ``Retry-After`` means "try again": the database was unreachable,
too busy (pool wait, lock or statement timeout) or locked, so the request's
transaction did not commit. (Only a connection lost during COMMIT itself
leaves the outcome unknown; a retried create then meets its own row: 409.)
A database that answers but lacks the app's tables is a deployment mistake,
not an outage: it is a 500 whose log says to run the migrations.
"""

from flask import Flask, Response, current_app, jsonify
from sqlalchemy.exc import (
    DBAPIError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.http import HTTP_STATUS_CODES

from .database import discard_session

RETRY_AFTER_SECONDS = 5

# SQLite's and PostgreSQL's ways of saying a table or column does not exist.
_SQLITE_SCHEMA_MESSAGES = ("no such table", "no such column")
_POSTGRES_SCHEMA_STATES = frozenset({"42P01", "42703"})  # undefined table, column


def init_app(app: Flask) -> None:
    """Answer HTTP errors and unexpected exceptions with a JSON body."""
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(PoolTimeoutError, _database_unavailable)
    app.register_error_handler(OperationalError, _database_error)
    app.register_error_handler(InterfaceError, _database_error)
    app.register_error_handler(ProgrammingError, _database_error)
    app.register_error_handler(Exception, _unexpected_error)


def error_response(
    status: int, message: str, **details: object
) -> tuple[Response, int]:
    """The one JSON error shape: ``{"error": ..., "message": ..., ...details}``."""
    name = HTTP_STATUS_CODES.get(status, "error").lower().replace(" ", "_")
    return jsonify({"error": name, "message": message, **details}), status


def is_schema_missing(error: BaseException) -> bool:
    """Whether the database lacks a table or column the app uses (unmigrated)."""
    if not isinstance(error, DBAPIError):
        return False
    if getattr(error.orig, "sqlstate", None) in _POSTGRES_SCHEMA_STATES:
        return True
    text = str(error.orig).lower()
    return any(message in text for message in _SQLITE_SCHEMA_MESSAGES)


def _http_error(error: HTTPException) -> tuple[Response, int]:
    response, status = error_response(error.code or 500, error.description or "")
    # Keep what the error says beyond its HTML body, e.g. ``Allow`` on a 405.
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response, status


def _database_error(error: DBAPIError) -> tuple[Response, int]:
    if is_schema_missing(error):
        discard_session()
        current_app.logger.error(
            "The database schema is missing a table or column (%s): apply the"
            " migrations with `flask db upgrade`.",
            error.orig,
        )
        return _http_error(InternalServerError())
    if isinstance(error, ProgrammingError):
        return _unexpected_error(error)
    return _database_unavailable(error)


def _database_unavailable(error: Exception) -> tuple[Response, int]:
    """Unreachable, timed out or locked: nothing was done, the client may retry."""
    discard_session()
    current_app.logger.warning("Database unavailable: %s", error)
    response, status = error_response(503, "database unavailable")
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response, status


def _unexpected_error(error: Exception) -> tuple[Response, int]:
    # A failed flush leaves the transaction unusable: drop the session at once
    # so the rest of this request, and the next one, get a working one.
    discard_session()
    current_app.logger.exception("Unhandled error", exc_info=error)
    return _http_error(InternalServerError())
