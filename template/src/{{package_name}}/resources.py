"""What every resource blueprint shares: bounded ids, checked input, pages.

Blueprints read client input only through these helpers, so a bad id, body or
query string always answers a JSON 4xx and never reaches the database.
"""

from typing import Any, TypeVar

from flask import Flask, Response, abort, make_response, request
from pydantic import BaseModel, ValidationError
from sqlalchemy import Select
from werkzeug.routing import IntegerConverter, Map

from .errors import error_response
from .extensions import db
from .http import json_body
from .schemas.common import Page, PageQuery

ModelT = TypeVar("ModelT", bound=BaseModel)

#: The largest id a route accepts: PostgreSQL's INTEGER, whose overflow is a
#: 500 (SQLite's limit, 2**63 - 1, is higher). Larger ids answer 404.
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """``<id:name>`` in a route: a positive integer that fits the id column."""

    def __init__(self, url_map: Map) -> None:
        super().__init__(url_map, min=1, max=MAX_ID)


def init_app(app: Flask) -> None:
    """Make ``<id:...>`` available to routes (before any blueprint registers)."""
    app.url_map.converters["id"] = IdConverter


def read_body(schema: type[ModelT]) -> ModelT:
    """The request's JSON body checked against ``schema``; 422 naming each field."""
    return _validated(schema, json_body(), "Invalid request body.")


def read_query(schema: type[ModelT]) -> ModelT:
    """The query string checked against ``schema``; 422 naming each parameter."""
    return _validated(schema, request.args.to_dict(), "Invalid query string.")


def page_of(statement: Select[Any], item_schema: type[BaseModel]) -> dict[str, Any]:
    """One page of ``statement``'s rows, as ``?page=&per_page=`` ask."""
    query = read_query(PageQuery)
    page = db.paginate(
        statement, page=query.page, per_page=query.per_page, error_out=False
    )
    shaped = Page[item_schema](  # type: ignore[valid-type]
        items=[item_schema.model_validate(row) for row in page.items],
        page=page.page,
        per_page=page.per_page,
        total=page.total or 0,
        pages=page.pages,
    )
    return shaped.model_dump(mode="json")


def dump(schema: type[BaseModel], obj: object) -> dict[str, Any]:
    """``obj`` (a model instance) in the JSON shape ``schema`` describes."""
    return schema.model_validate(obj).model_dump(mode="json")


def _validated(schema: type[ModelT], data: object, message: str) -> ModelT:
    try:
        return schema.model_validate(data)
    except ValidationError as error:
        abort(_invalid(message, error))


def _invalid(message: str, error: ValidationError) -> Response:
    """422 with ``fields``: each bad field (or ``body``) and what is wrong."""
    fields: dict[str, str] = {}
    for problem in error.errors(include_url=False):
        # The field itself: deeper parts of ``loc`` name pydantic's internals.
        name = str(problem["loc"][0]) if problem["loc"] else "body"
        fields.setdefault(name, problem["msg"])
    return make_response(error_response(422, message, fields=fields))
