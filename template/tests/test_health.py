"""``/health`` reports the database honestly."""

import os
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient


def test_health_ok(client: FlaskClient) -> None:
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


def test_health_503_when_database_unreachable(
    make_app: Callable[..., Flask], tmp_path
) -> None:
    unreachable = f"sqlite:///{tmp_path / 'missing-dir' / 'nope.sqlite3'}"
    app = make_app(SQLALCHEMY_DATABASE_URI=unreachable)

    response = app.test_client().get("/health")

    assert response.status_code == 503
    assert response.json["database"] == "unavailable"
    assert response.json["message"] == "database unreachable"


def test_pool_status_is_not_served_by_default(client: FlaskClient) -> None:
    assert client.get("/health/pool").status_code == 404


def test_pool_status_reports_checked_out_connections(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(POOL_STATUS_ENDPOINT=True)

    response = app.test_client().get("/health/pool")

    assert response.status_code == 200
    assert response.json["checked_out"] == 0
    assert response.json["pid"] == os.getpid()
