"""Health checks: ``/health/live`` (is the process up?) and ``/health`` (ready?).

An orchestrator restarts a container whose liveness check fails, so that one
never touches the database: an outage must not restart every container. The
readiness check does, with the connect timeout bounding how long it can take.
"""

import os

from flask import Blueprint, Flask, Response, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .database import discard_session
from .errors import error_response
from .extensions import db

bp = Blueprint("health", __name__)
# Served only when POOL_STATUS_ENDPOINT is set: never exposed by default.
pool_bp = Blueprint("pool_status", __name__)


def init_app(app: Flask) -> None:
    """Serve ``/health``, and ``/health/pool`` when the config asks for it."""
    app.register_blueprint(bp)
    if app.config["POOL_STATUS_ENDPOINT"]:
        app.register_blueprint(pool_bp)


@bp.get("/health/live")
def live() -> Response:
    """200 whenever the process can answer at all."""
    return jsonify(status="ok")


@bp.get("/health")
def health() -> Response | tuple[Response, int]:
    """200 when a trivial query succeeds, 503 with the reason when it does not."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        current_app.logger.warning("Health check failed: %s", error)
        return error_response(503, "database unreachable", database="unavailable")
    finally:
        # Nothing to keep: hand the connection straight back to the pool.
        discard_session()
    return jsonify(status="ok", database="ok")


@pool_bp.get("/health/pool")
def pool_status() -> Response:
    """This worker process's pool: load tests check nothing stays checked out."""
    pool = db.engine.pool
    return jsonify(
        pid=os.getpid(),
        checked_out=pool.checkedout(),  # type: ignore[attr-defined]
        status=pool.status(),
    )
