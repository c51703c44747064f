"""One-off HTTP requests to a served app over loopback (tests, probes)."""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Response:
    """What one request got back."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON (every response of the generated app is JSON)."""
        return json.loads(self.body)


def request(
    port: int,
    method: str,
    path: str,
    *,
    json_body: Any = None,
    raw_body: bytes | None = None,
    timeout: float = 5.0,
) -> Response:
    """One request on a fresh connection, so each may reach another worker."""
    body = (
        raw_body
        if raw_body is not None
        else (None if json_body is None else json.dumps(json_body).encode())
    )
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        headers = {"Connection": "close"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


# --------------------------------------------------------------------------
# gunicorn
# --------------------------------------------------------------------------
