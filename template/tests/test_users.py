"""``/api/users``: status codes and bodies a client relies on."""

from typing import Any

import pytest
from flask.testing import FlaskClient


def create(client: FlaskClient, username: str) -> dict[str, Any]:
    response = client.post("/api/users", json={"username": username})
    assert response.status_code == 201, response.json
    body = response.json
    assert isinstance(body, dict)
    return body


def test_create_then_fetch_user(client: FlaskClient) -> None:
    created = create(client, "ada")

    response = client.get(f"/api/users/{created['id']}")

    assert response.status_code == 200
    assert response.json["username"] == "ada"
    assert response.json["created_at"]


def test_create_answers_location_of_new_user(client: FlaskClient) -> None:
    response = client.post("/api/users", json={"username": "grace"})

    assert response.headers["Location"] == f"/api/users/{response.json['id']}"


def test_missing_user_is_404_json(client: FlaskClient) -> None:
    response = client.get("/api/users/999999")

    assert response.status_code == 404
    assert response.json["error"] == "not_found"
    assert "999999" in response.json["message"]


def test_duplicate_username_is_409_and_keeps_first(client: FlaskClient) -> None:
    first = create(client, "linus")

    response = client.post("/api/users", json={"username": "linus"})

    assert response.status_code == 409
    assert "already taken" in response.json["message"]
    listing = client.get("/api/users").json
    assert [user["id"] for user in listing["items"]] == [first["id"]]


def test_malformed_json_is_400(client: FlaskClient) -> None:
    response = client.post(
        "/api/users", data="{not json", content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json["error"] == "bad_request"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "body"),
        ({}, "username"),
        ({"username": 7}, "username"),
        ({"username": "   "}, "username"),
        ({"username": " padded "}, "username"),
        ({"username": "x" * 81}, "username"),
        ({"username": "ok", "admin": True}, "admin"),
    ],
    ids=["not-object", "missing", "number", "blank", "padded", "too-long", "extra"],
)
def test_invalid_user_is_422_naming_the_field(
    client: FlaskClient, body: object, field: str
) -> None:
    response = client.post("/api/users", json=body)

    assert response.status_code == 422
    assert field in response.json["fields"]


def test_username_of_80_characters_is_accepted(client: FlaskClient) -> None:
    assert create(client, "x" * 80)["username"] == "x" * 80


def test_list_is_paginated_oldest_first(client: FlaskClient) -> None:
    ids = [create(client, f"user{number}")["id"] for number in range(5)]

    page = client.get("/api/users?page=2&per_page=2").json

    assert [user["id"] for user in page["items"]] == ids[2:4]
    assert (page["page"], page["per_page"], page["total"], page["pages"]) == (
        2,
        2,
        5,
        3,
    )


def test_page_past_the_end_is_empty_not_404(client: FlaskClient) -> None:
    create(client, "only")

    page = client.get("/api/users?page=5").json

    assert (page["items"], page["total"], page["page"]) == ([], 1, 5)


def test_delete_user_then_it_is_gone(client: FlaskClient) -> None:
    user = create(client, "leaving")

    assert client.delete(f"/api/users/{user['id']}").status_code == 204
    assert client.get(f"/api/users/{user['id']}").status_code == 404
    assert client.delete(f"/api/users/{user['id']}").status_code == 404
