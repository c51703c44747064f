"""Random requests never get a 5xx: bodies, paths and query strings from hypothesis.

A modest number of examples by default keeps the suite fast; raise it with
``HYPOTHESIS_PROFILE=thorough pytest tests/test_fuzz.py`` (run it on
PostgreSQL too: ``TEST_DATABASE_URL=... pytest tests/test_fuzz.py``).
"""

import json
import os
from typing import Any
from urllib.parse import quote, urlencode

from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

settings.register_profile(
    "default",
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "thorough", parent=settings.get_profile("default"), max_examples=2000
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

ROUTES = [
    "/api/users",
    "/api/users/{id}",
    "/api/users/{id}/notes",
    "/api/notes",
    "/api/notes/{id}",
]
ID_ROUTES = [route for route in ROUTES if "{id}" in route]
METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE"]
FIELDS = ["username", "title", "body", "page", "per_page", "id", "owner_id"]

# Text of every kind: NUL, control characters, lone surrogates, emoji.
texts = st.text(st.characters(codec=None), max_size=300)
# surrogatepass: a lone surrogate goes out as the (invalid) bytes it would be.
url_texts = texts.map(lambda text: quote(text, safe="", errors="surrogatepass"))
big_numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    # around the limits of 32-bit (PostgreSQL INTEGER) and 64-bit (SQLite) ids
    st.integers(min_value=2**31 - 2, max_value=2**31 + 2),
    st.integers(min_value=2**63 - 2, max_value=2**63 + 2),
    st.integers(min_value=10**20, max_value=10**30),
)
ids = big_numbers.map(str) | url_texts
scalars = st.one_of(st.none(), st.booleans(), big_numbers, st.floats(), texts)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | texts, inner, max_size=4)
    ),
    max_leaves=12,
)
bodies = st.one_of(
    st.fixed_dictionaries({}, optional=dict.fromkeys(FIELDS, scalars)).map(json.dumps),
    json_values.map(json.dumps),
    st.binary(max_size=200),
)
query_values = big_numbers.map(str) | texts
queries = st.dictionaries(
    st.sampled_from(["page", "per_page"]) | texts, query_values, max_size=3
).map(lambda query: urlencode(query, errors="surrogatepass"))


def assert_json_4xx_at_worst(response: Any) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)
    # Werkzeug's routing redirects (``//`` merged, a trailing ``/``) carry HTML.
    redirect = 300 <= response.status_code < 400 and "Location" in response.headers
    assert response.status_code == 204 or redirect or response.is_json, response.headers


@given(method=st.sampled_from(METHODS), route=st.sampled_from(ID_ROUTES), id_=ids)
def test_any_id_answers_json_4xx_at_worst(
    client: FlaskClient, method: str, route: str, id_: str
) -> None:
    response = client.open(route.format(id=id_), method=method, json={})

    assert_json_4xx_at_worst(response)


@given(method=st.sampled_from(METHODS), route=st.sampled_from(ROUTES), body=bodies)
def test_any_body_answers_json_4xx_at_worst(
    client: FlaskClient, method: str, route: str, body: str | bytes
) -> None:
    user_id = client.post("/api/users", json={"username": "fuzz-owner"}).json.get("id")
    path = route.format(id=user_id or 1)

    response = client.open(
        path, method=method, data=body, content_type="application/json"
    )

    assert_json_4xx_at_worst(response)


@given(route=st.sampled_from(ROUTES), path=url_texts, query=queries)
def test_any_path_and_query_answers_json_4xx_at_worst(
    client: FlaskClient, route: str, path: str, query: str
) -> None:
    for url in (route.format(id=1), f"/api/{path}"):
        assert_json_4xx_at_worst(client.get(f"{url}?{query}"))
