"""What every request and response gets, whichever view handles it.

Views read request bodies through :func:`json_body`, which takes JSON only
(a form or ``text/plain`` body is what a cross-site page can send without
asking): anything else is a 415. HTML views an app adds keep their forms.
Bodies over ``MAX_CONTENT_LENGTH`` are a 413 (Werkzeug enforces it while
reading).
JSON is parsed strictly: strings with NUL or lone surrogates, ``NaN``, and
nesting deeper than ``JSON_MAX_DEPTH`` are a 400, never a 500 further in.
Every response carries the security headers a JSON API should send.
"""

import json
import re
from typing import Any

from flask import Flask, Response, request
from flask.json.provider import DefaultJSONProvider

# NUL (PostgreSQL text cannot hold it) and UTF-16 surrogates (not encodable).
_FORBIDDEN_CHARACTERS = re.compile("[\x00\ud800-\udfff]")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
# JSON needs nothing; an HTML page (such as the API docs) may load its own
# scripts and styles. A view can set a policy of its own instead.
JSON_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'"
PAGE_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing input the database or the app could choke on."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            value = json.loads(s, parse_constant=_refuse_constant, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None
        _check_value(value, self._app.config["JSON_MAX_DEPTH"])
        return value


def init_app(app: Flask) -> None:
    """Parse JSON strictly and add the security headers."""
    app.json = StrictJSONProvider(app)
    app.after_request(_add_security_headers)


def json_body() -> Any:
    """The request's JSON body, as views should read it.

    415 when the body is not declared JSON, 400 when it is empty, malformed,
    or refused by the strict parser (both as JSON errors, via ``errors.py``).
    """
    return request.get_json()


def _add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if response.is_json:
        policy = JSON_CONTENT_SECURITY_POLICY
        # API answers are per request and may be private: keep them out of caches.
        response.headers.setdefault("Cache-Control", "no-store")
    else:
        policy = PAGE_CONTENT_SECURITY_POLICY
    response.headers.setdefault("Content-Security-Policy", policy)
    return response


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _check_value(value: Any, max_depth: int) -> None:
    """Walk the parsed value (without recursion) checking depth and strings."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if _FORBIDDEN_CHARACTERS.search(item):
                raise ValueError("strings must not contain NUL or lone surrogates")
        elif isinstance(item, dict | list):
            if depth > max_depth:
                raise ValueError(f"JSON nested deeper than {max_depth} levels")
            children = [*item, *item.values()] if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
