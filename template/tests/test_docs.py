"""``/openapi.json`` is a valid OpenAPI document of every route; ``/docs`` shows it."""

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

#: Served beside the API, not part of it.
UNDOCUMENTED = ("/static/", "/docs", "/openapi.json", "/health")


@pytest.fixture
def document(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    body = response.json
    assert isinstance(body, dict)
    return body


def test_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)  # raises, naming the first problem


def test_every_route_and_method_is_documented(
    app: Flask, document: dict[str, Any]
) -> None:
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(UNDOCUMENTED):
            continue
        path = rule.rule.replace("<id:", "{").replace(">", "}")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            if method.lower() not in document["paths"].get(path, {}):
                missing.append(f"{method} {path}")
    assert missing == []


def test_schemas_come_from_the_validating_models(document: dict[str, Any]) -> None:
    create = document["paths"]["/api/users"]["post"]
    schema_name = create["requestBody"]["content"]["application/json"]["schema"]
    user_create = document["components"]["schemas"][
        schema_name["$ref"].rsplit("/", 1)[-1]
    ]

    assert user_create["properties"]["username"]["maxLength"] == 80
    assert user_create["additionalProperties"] is False
    assert {"201", "400", "409", "422"} <= set(create["responses"])


def test_docs_page_uses_local_assets_only(client: FlaskClient) -> None:
    page = client.get("/docs").get_data(as_text=True)

    assert "//" not in page.replace("<!doctype html>", "")  # no other host
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "docs.js"):
        assert asset in page
    for path in ("/docs/assets/swagger-ui-bundle.js", "/static/docs.js"):
        with client.get(path) as response:
            assert response.status_code == 200, path
