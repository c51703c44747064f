"""The OpenAPI document, built from the routes and the schemas they declare.

A view declares its shapes with :func:`documented`; the document walks the
app's URL map, so every documented route appears, with the very pydantic
models that validate its input and shape its output.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from importlib import metadata
from typing import Any, Literal, TypeVar

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from werkzeug.routing import Rule

from .resources import MAX_ID
from .schemas.common import ErrorBody

ViewT = TypeVar("ViewT", bound=Callable[..., Any])
Mode = Literal["validation", "serialization"]

OPENAPI_VERSION = "3.1.0"
_ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


@dataclass(frozen=True)
class Operation:
    """What one view takes and answers."""

    summary: str
    status: int
    response: type[BaseModel] | None
    body: type[BaseModel] | None
    query_string: type[BaseModel] | None
    errors: tuple[int, ...]


_operations: dict[Callable[..., Any], Operation] = {}


def documented(
    *,
    status: int = 200,
    response: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    errors: tuple[int, ...] = (),
) -> Callable[[ViewT], ViewT]:
    """Declare a view's shapes (put it under the route decorator)."""

    def register(view: ViewT) -> ViewT:
        summary = (view.__doc__ or view.__name__).strip().splitlines()[0]
        _operations[view] = Operation(summary, status, response, body, query, errors)
        return view

    return register


def openapi_document(app: Flask) -> dict[str, Any]:
    """The app's OpenAPI 3.1 document."""
    found = [
        (rule, operation)
        for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule)
        if (operation := _operations.get(app.view_functions[rule.endpoint]))
    ]
    wanted: list[tuple[type[BaseModel], Mode]] = [(ErrorBody, "serialization")]
    for _rule, operation in found:
        if operation.body:
            wanted.append((operation.body, "validation"))
        if operation.response:
            wanted.append((operation.response, "serialization"))
    refs, definitions = models_json_schema(
        wanted, ref_template="#/components/schemas/{model}"
    )
    paths: dict[str, dict[str, Any]] = {}
    for rule, operation in found:
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        for method in methods:
            paths.setdefault(_path(rule), {})[method.lower()] = _operation(
                rule, operation, refs
            )
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": app.name, "version": _version(app)},
        "paths": paths,
        "components": {"schemas": definitions.get("$defs", {})},
    }


def _operation(
    rule: Rule, operation: Operation, refs: dict[tuple[Any, Mode], Any]
) -> dict[str, Any]:
    responses: dict[str, Any] = {str(operation.status): _response(operation, refs)}
    errors = set(operation.errors)
    if operation.body:
        errors |= {400, 422}
    if operation.query_string:
        errors.add(422)
    error_ref = refs[(ErrorBody, "serialization")]
    for status in sorted(errors):
        responses[str(status)] = {
            "description": HTTPStatus(status).phrase,
            "content": {"application/json": {"schema": error_ref}},
        }
    spec: dict[str, Any] = {
        "operationId": rule.endpoint.replace(".", "_"),
        "tags": [rule.endpoint.partition(".")[0]],  # grouped by blueprint
        "summary": operation.summary,
        "parameters": [*_path_parameters(rule), *_query_parameters(operation)],
        "responses": responses,
    }
    if operation.body:
        schema = refs[(operation.body, "validation")]
        spec["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    return spec


def _response(operation: Operation, refs: dict[tuple[Any, Mode], Any]) -> Any:
    answer: dict[str, Any] = {"description": HTTPStatus(operation.status).phrase}
    if operation.response:
        schema = refs[(operation.response, "serialization")]
        answer["content"] = {"application/json": {"schema": schema}}
    return answer


def _path(rule: Rule) -> str:
    """``/api/users/<id:user_id>`` as OpenAPI writes it: ``/api/users/{user_id}``."""
    return _ARGUMENT.sub(lambda match: "{" + match[2] + "}", rule.rule)


def _path_parameters(rule: Rule) -> list[dict[str, Any]]:
    parameters = []
    for converter, name in _ARGUMENT.findall(rule.rule):
        schema: dict[str, Any] = {"type": "string"}
        if converter == "id":
            schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
        parameters.append(
            {"name": name, "in": "path", "required": True, "schema": schema}
        )
    return parameters


def _query_parameters(operation: Operation) -> list[dict[str, Any]]:
    if operation.query_string is None:
        return []
    properties = operation.query_string.model_json_schema()["properties"]
    return [
        {"name": name, "in": "query", "required": False, "schema": schema}
        for name, schema in properties.items()
    ]


def _version(app: Flask) -> str:
    """The project's own version, as installed (``pyproject.toml``)."""
    return metadata.version(app.import_name.replace("_", "-"))
