"""``/openapi.json`` and ``/docs``: the API described, and browsable.

The docs page is Swagger UI from the ``openapi-ui-bundles`` package, served by
the app itself: no CDN, so it works offline and under a strict CSP.
"""

from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    render_template,
    send_from_directory,
)
from openapi_ui_bundles import swagger_ui

from .openapi import openapi_document

bp = Blueprint("docs", __name__)


def init_app(app: Flask) -> None:
    """Serve the document and the page (register after every resource)."""
    app.register_blueprint(bp)


@bp.get("/openapi.json")
def openapi_json() -> dict[str, Any]:
    """The OpenAPI document of every documented route."""
    return openapi_document(current_app)


@bp.get("/docs")
def docs_page() -> str:
    """Swagger UI on ``/openapi.json``."""
    return render_template("docs.html")


@bp.get("/docs/assets/<path:filename>")
def asset(filename: str) -> Response:
    """Swagger UI's own files, from the installed package."""
    return send_from_directory(swagger_ui.static_path, filename)
