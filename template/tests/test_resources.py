"""Client input every resource reads the same way: ids, paging, text.

Bad input answers a JSON 4xx that says what is wrong, never a 500, on SQLite
and PostgreSQL alike (ids past PostgreSQL's INTEGER used to overflow).
"""

import pytest
from flask.testing import FlaskClient


@pytest.mark.parametrize(
    "path",
    [
        "/api/users/2147483648",
        "/api/users/100000000000000000000",
        "/api/users/0",
        "/api/users/-1",
        "/api/users/1e3",
        "/api/notes/9223372036854775808",
    ],
)
def test_an_id_out_of_range_is_404_json(client: FlaskClient, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 404
    assert response.json["error"] == "not_found"


def test_the_largest_id_is_an_ordinary_404(client: FlaskClient) -> None:
    response = client.get("/api/users/2147483647")

    assert response.status_code == 404
    assert "2147483647" in response.json["message"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page=abc", "page"),
        ("page=0", "page"),
        ("page=99999999999999999999999", "page"),
        ("per_page=-5", "per_page"),
        ("per_page=1000", "per_page"),
        ("per_page=", "per_page"),
    ],
)
def test_bad_paging_is_422_naming_the_parameter(
    client: FlaskClient, query: str, field: str
) -> None:
    for path in ("/api/users", "/api/notes"):
        response = client.get(f"{path}?{query}")

        assert response.status_code == 422, path
        assert response.json["message"] == "Invalid query string."
        assert field in response.json["fields"]


@pytest.mark.parametrize(
    ("username", "problem"),
    [
        ("nul\x00byte", "control characters (found U+0000)"),
        ("bell\x07", "control characters"),
        ("two\nlines", "control characters"),
        ("lone\ud800surrogate", "lone surrogates"),
    ],
)
def test_text_that_databases_choke_on_is_422(
    client: FlaskClient, username: str, problem: str
) -> None:
    response = client.post("/api/users", json={"username": username})

    assert response.status_code == 422
    assert problem in response.json["fields"]["username"]


def test_lone_surrogate_escape_in_raw_json_is_422(client: FlaskClient) -> None:
    response = client.post(
        "/api/users", data='{"username": "a\\udc00"}', content_type="application/json"
    )

    assert response.status_code == 422
    assert "username" in response.json["fields"]


def test_unicode_text_is_fine(client: FlaskClient) -> None:
    response = client.post("/api/users", json={"username": "Zoë 🐍 田中"})

    assert response.status_code == 201
    assert response.json["username"] == "Zoë 🐍 田中"
