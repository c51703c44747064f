"""Writers under faults: what each client was told, checked against the database.

Threads create users with unique names until stopped and record every answer.
Afterwards the names the database holds say whether any 201 was lost (the row
is missing) or any failure was a phantom (the row exists although the client
was told the write failed, so its retry would make a duplicate or a 409).
Standard library only: the fault tests and the serving benchmark share it.
"""

from __future__ import annotations

import http.client
import itertools
import json
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from harness.client_threads import ClientThreads
from harness.http_requests import request


@dataclass(frozen=True)
class Outcome:
    """One create-user request and what came back (status None: no answer)."""

    username: str
    started: float
    ended: float
    status: int | None
    is_json: bool
    retry_after: bool


class WriteLedger(ClientThreads):
    """`threads` clients POSTing `/api/users` one at a time until the block ends."""

    def __init__(self, port: int, prefix: str, *, threads: int = 4, timeout: float = 30.0) -> None:
        super().__init__(threads, join_seconds=timeout + 10)
        self.port = port
        self.prefix = prefix
        self.timeout = timeout
        self._numbers = itertools.count()
        self._outcomes: list[Outcome] = []

    def loop(self, number: int) -> None:
        while not self.stopped():
            with self._lock:
                username = f"{self.prefix}{next(self._numbers)}"
            started = time.monotonic()
            try:
                resp = request(
                    self.port,
                    "POST",
                    "/api/users",
                    json_body={"username": username},
                    timeout=self.timeout,
                )
                status, is_json = resp.status, _is_json(resp.body)
                retry_after = "retry-after" in resp.headers
            except (OSError, http.client.HTTPException):
                status, is_json, retry_after = None, False, False
            outcome = Outcome(username, started, time.monotonic(), status, is_json, retry_after)
            with self._lock:
                self._outcomes.append(outcome)
            time.sleep(0.01)

    def outcomes(self) -> list[Outcome]:
        with self._lock:
            return sorted(self._outcomes, key=lambda o: o.started)

    def first_success_after(self, moment: float) -> float | None:
        """When the first write started after `moment` was answered 201."""
        ends = [o.ended for o in self.outcomes() if o.started >= moment and o.status == 201]
        return min(ends) if ends else None

    def tally(self, stored: set[str]) -> dict[str, Any]:
        """Figures against the usernames the database holds (ours only)."""
        outcomes = self.outcomes()
        created = {o.username for o in outcomes if o.status == 201}
        refused = {o.username for o in outcomes if o.status is not None and o.status != 201}
        ours = {name for name in stored if name.startswith(self.prefix)}
        server_errors = [o for o in outcomes if o.status is not None and o.status >= 500]
        return {
            "requests": len(outcomes),
            "statuses": dict(Counter(o.status for o in outcomes)),
            "lost": len(created - ours),
            "phantom": len(refused & ours),
            "unanswered": sum(o.status is None for o in outcomes),
            "non_json_5xx": sum(not o.is_json for o in server_errors),
            "5xx_without_retry_after": sum(not o.retry_after for o in server_errors),
            "slowest_s": round(max((o.ended - o.started for o in outcomes), default=0.0), 2),
        }


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True
