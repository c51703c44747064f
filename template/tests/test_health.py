"""``/health`` reports the database honestly and fast; ``/health/live`` never asks."""

import os
import socket
import time
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and never answers (a hung host)."""
    with socket.create_server(("127.0.0.1", 0), backlog=8) as listener:
        yield listener.getsockname()[1]


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


def test_liveness_does_not_depend_on_the_database(
    make_app: Callable[..., Flask], tmp_path
) -> None:
    unreachable = f"sqlite:///{tmp_path / 'missing-dir' / 'nope.sqlite3'}"
    app = make_app(SQLALCHEMY_DATABASE_URI=unreachable)

    response = app.test_client().get("/health/live")

    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_health_fails_fast_against_a_host_that_never_answers(
    make_app: Callable[..., Flask],
    silent_server: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_CONNECT_TIMEOUT", "2")
    url = f"postgresql+psycopg://app@127.0.0.1:{silent_server}/app"
    client = make_app(SQLALCHEMY_DATABASE_URI=url).test_client()

    started = time.monotonic()
    response = client.get("/health")

    assert response.status_code == 503
    assert time.monotonic() - started < 4


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
