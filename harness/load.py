"""Load generation: a bounded, closed-loop client on raw sockets, and its figures.

Used by `benchmarks/serve_load.py` and the PgBouncer test. Every loop is
bounded in both request count and wall time, and talks to 127.0.0.1 only.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.http_requests import LOOPBACK


@dataclass(frozen=True)
class Call:
    """One request of a load plan, and the statuses that count as correct."""

    kind: str
    method: str
    path: str
    body: bytes | None = None
    expect: frozenset[int] = frozenset({200})

    def encode(self) -> bytes:
        """The request bytes, HTTP/1.1 with keep-alive."""
        head = f"{self.method} {self.path} HTTP/1.1\r\nHost: {LOOPBACK}\r\n"
        if self.body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(self.body)}\r\n"
        return (head + "\r\n").encode() + (self.body or b"")


#: `plan(rng, worker_number, sequence_number) -> Call`: what to send next.
Plan = Callable[[random.Random, int, int], Call]


class _Connection:
    """A minimal keep-alive HTTP/1.1 client on a raw socket.

    Leaner than http.client (no header parsing beyond what we need), because
    the generator shares the machine's cores with the server it measures.
    Reconnects when the server closes (gunicorn's sync workers close after
    every response; gthread keeps connections alive).
    """

    def __init__(self, port: int, timeout: float) -> None:
        self.port = port
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.buffer = b""

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self.buffer = b""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((LOOPBACK, self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        return sock

    def exchange(self, data: bytes) -> int:
        """Send one request and read its whole response; return the status."""
        reused = self.sock is not None
        sock = self.sock or self._connect()
        try:
            sock.sendall(data)
            return self._read_response(sock)
        except (ConnectionError, _ServerClosed):
            # A kept-alive connection the server closed while idle: retry once, fresh.
            if not reused:
                raise
            self.close()
            sock = self._connect()
            sock.sendall(data)
            return self._read_response(sock)

    def _read_response(self, sock: socket.socket) -> int:
        buffer = self.buffer
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            chunk = sock.recv(65536)
            if not chunk:
                self.buffer = b""
                raise _ServerClosed
            buffer += chunk
        head = buffer[:end].decode("latin-1")
        lines = head.split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        close = False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                close = True
            elif name == "transfer-encoding":
                raise _ServerClosed("chunked response: not expected from the app")
        body_end = end + 4 + length
        while len(buffer) < body_end:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed mid-body")
            buffer += chunk
        self.buffer = buffer[body_end:]
        if close:
            self.close()
        return status


class _ServerClosed(Exception):
    """The server closed the connection before answering (or answered unreadably)."""


@dataclass
class LoadResult:
    """What a load run saw: counts per kind and status, and every latency."""

    requests: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    unexpected: Counter[tuple[str, int]] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0

    def percentile(self, q: float) -> float:
        """Latency at quantile q (0..1), in seconds (nearest rank)."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]

    @property
    def server_errors(self) -> int:
        return sum(n for (_kind, status), n in self.statuses.items() if status >= 500)


def run_load(
    port: int,
    plan: Plan,
    *,
    concurrency: int,
    duration: float,
    max_requests: int,
    seed: int = 0,
    timeout: float = 30.0,
) -> LoadResult:
    """Closed-loop load: `concurrency` threads, each one request at a time.

    Stops at `duration` seconds or `max_requests` requests, whichever comes
    first. A transport error (reset, timeout) is counted, not raised, and the
    thread carries on with a fresh connection.
    """
    result = LoadResult()
    lock = threading.Lock()
    issued = iter(range(max_requests))
    start = threading.Event()
    deadline_box: list[float] = []

    def worker(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        conn = _Connection(port, timeout)
        latencies: list[float] = []
        statuses: Counter[tuple[str, int]] = Counter()
        unexpected: Counter[tuple[str, int]] = Counter()
        errors: Counter[str] = Counter()
        start.wait()
        deadline = deadline_box[0]
        clock = time.perf_counter
        try:
            while clock() < deadline:
                with lock:
                    sequence = next(issued, None)
                if sequence is None:
                    break
                call = plan(rng, number, sequence)
                data = call.encode()
                began = clock()
                try:
                    status = conn.exchange(data)
                except (OSError, _ServerClosed) as error:
                    errors[type(error).__name__] += 1
                    conn.close()
                    continue
                latencies.append(clock() - began)
                statuses[(call.kind, status)] += 1
                if status not in call.expect:
                    unexpected[(call.kind, status)] += 1
        finally:
            conn.close()
            with lock:
                result.latencies.extend(latencies)
                result.statuses.update(statuses)
                result.unexpected.update(unexpected)
                result.errors.update(errors)

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    deadline_box.append(began + duration)
    start.set()
    for thread in threads:
        thread.join(duration + timeout + 10)
    result.elapsed = time.perf_counter() - began
    result.requests = len(result.latencies)
    return result
