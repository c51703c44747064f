"""``/health`` reports the database honestly."""

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
