"""What `serve_load` sends: the gunicorn modes it compares and its load plans."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from harness import load
from harness.load import Call

SEEDED_USERS = 1000

SEED_PREFIX = "seed-"

#: Far above any id the run creates: GET /api/users/<this + n> is a 404.
MISSING_ID = 10**9


@dataclass(frozen=True)
class Mode:
    """How gunicorn runs: worker count, threads, and the pool it gets."""

    name: str
    workers: int
    threads: int
    pool_env: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        pool = ", ".join(f"{k}={v}" for k, v in self.pool_env.items()) or "default pool"
        kind = "sync" if self.threads == 1 else f"gthread x{self.threads} threads"
        return f"{self.workers} workers, {kind}, {pool}"


MODES = (
    Mode("sync", workers=2, threads=1),
    Mode(
        "threaded",
        workers=2,
        threads=4,
        pool_env={"DATABASE_POOL_SIZE": "2", "DATABASE_MAX_OVERFLOW": "0"},
    ),
)


def _post(kind: str, payload: object | bytes, expect: int) -> Call:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return Call(kind, "POST", "/api/users", body, frozenset({expect}))


def plan_ceiling(rng: random.Random, worker: int, seq: int) -> Call:
    """The bare app's one route."""
    return Call("ceiling", "GET", "/ping")


def plan_app_404(rng: random.Random, worker: int, seq: int) -> Call:
    """The generated app's JSON 404 for an unknown path: no database touched."""
    return Call("app-404", "GET", "/no-such-page", expect=frozenset({404}))


def plan_read(rng: random.Random, worker: int, seq: int) -> Call:
    """GET /api/users/<id> for a seeded user: one primary-key SELECT."""
    return Call("read", "GET", f"/api/users/{rng.randint(1, SEEDED_USERS)}")


def make_plan_insert(token: str) -> load.Plan:
    """POST a never-used username: one INSERT and COMMIT."""
    numbers = itertools.count()  # across runs too: every name is new

    def plan(rng: random.Random, worker: int, seq: int) -> Call:
        return _post("insert", {"username": f"ins-{token}-{next(numbers)}"}, 201)

    return plan


_MALFORMED = (b'{"username": ', b"not json", b"")
_INVALID: tuple[object, ...] = (
    {"username": ""},
    {"username": 5},
    {"username": "x" * 81},
    {"username": " padded "},
    {"name": "wrong-field"},
    ["a", "list"],
)


def make_plan_mixed(token: str) -> load.Plan:
    """Valid and invalid input together: what a public API really gets."""
    numbers = itertools.count()

    def plan(rng: random.Random, worker: int, seq: int) -> Call:
        roll = rng.random()
        if roll < 0.40:
            return plan_read(rng, worker, seq)
        if roll < 0.50:
            return _post("insert", {"username": f"mix-{token}-{next(numbers)}"}, 201)
        if roll < 0.65:
            return _post(
                "duplicate", {"username": f"{SEED_PREFIX}{rng.randrange(SEEDED_USERS)}"}, 409
            )
        if roll < 0.80:
            return Call("missing", "GET", f"/api/users/{MISSING_ID + seq}", expect=frozenset({404}))
        if roll < 0.90:
            return _post("malformed", rng.choice(_MALFORMED), 400)
        return _post("invalid", rng.choice(_INVALID), 422)

    return plan
