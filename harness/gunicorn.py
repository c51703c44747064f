"""Serve a generated project with gunicorn and talk to it over loopback.

Shared by `benchmarks/serve_load.py` (figures) and `tests/test_serving.py`
(fault tests), so both drive the app exactly as production does: gunicorn in
front, real sockets, nothing in-process. Standard library only, so the suite
can import it without the benchmark plumbing in `benchmark.py`.

Everything talks to 127.0.0.1 only, and every loop is bounded in both request
count and wall time.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"

#: The access log line: worker pid, request line, status. The pid is what lets
#: a caller tell which worker answered (the app's own responses do not say).
ACCESS_LOG_FORMAT = '%(p)s "%(r)s" %(s)s'
_ACCESS_LINE = re.compile(
    r'^<(?P<pid>\d+)> "(?P<method>\S+) (?P<target>\S+) [^"]*" (?P<status>\d{3})'
)


# --------------------------------------------------------------------------
# One-off requests (tests, probes)
# --------------------------------------------------------------------------


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


class ServerFailed(RuntimeError):
    """gunicorn exited or never answered; the message carries its log."""


@dataclass
class Gunicorn:
    """A gunicorn master serving `app` from `venv`, on a loopback port we bound.

    We bind and listen ourselves and hand gunicorn the socket (`fd://`), so
    there is no window in which another process can take the port, and the
    port is known before gunicorn starts.
    """

    venv: Path
    app: str
    cwd: Path
    env: Mapping[str, str]
    log_dir: Path
    workers: int = 2
    threads: int = 1
    timeout: int = 30
    extra_args: Sequence[str] = ()
    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def access_log(self) -> Path:
        return self.log_dir / "access.log"

    @property
    def error_log(self) -> Path:
        return self.log_dir / "error.log"

    @property
    def worker_class(self) -> str:
        """sync for one thread per worker (gunicorn's default), else gthread."""
        return "sync" if self.threads == 1 else "gthread"

    def start(self, ready_path: str = "/__ready__", wait: float = 60.0) -> None:
        """Start and wait until every worker has booted and a request is answered."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((LOOPBACK, 0))
        listener.listen(1024)
        self.port = int(listener.getsockname()[1])
        cmd = [
            str(self.venv / "bin" / "gunicorn"),
            "--bind",
            f"fd://{listener.fileno()}",
            "--workers",
            str(self.workers),
            "--worker-class",
            self.worker_class,
            "--threads",
            str(self.threads),
            "--timeout",
            str(self.timeout),
            "--graceful-timeout",
            "5",
            "--access-logfile",
            str(self.access_log),
            "--access-logformat",
            ACCESS_LOG_FORMAT,
            "--error-logfile",
            str(self.error_log),
            *self.extra_args,
            self.app,
        ]
        try:
            self.process = subprocess.Popen(
                cmd,
                cwd=self.cwd,
                # gunicorn >= 25.1 opens a control socket in $XDG_RUNTIME_DIR,
                # else in a shared ~/.gunicorn/: keep each instance's apart.
                env={**self.env, "XDG_RUNTIME_DIR": str(self.log_dir)},
                pass_fds=[listener.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # our own process group: a signal reaches only it
            )
        finally:
            listener.close()  # gunicorn holds its own copy
        self._wait_ready(ready_path, wait)

    def _wait_ready(self, path: str, wait: float) -> None:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            self._check_alive()
            workers = self.worker_pids()
            if len(workers) >= self.workers:
                with contextlib.suppress(OSError, http.client.HTTPException):
                    # Ready when every worker has loaded the app and answered.
                    if set(self.reach_every_worker(path, rounds=2)) >= workers:
                        return
            time.sleep(0.05)
        raise ServerFailed(f"gunicorn did not answer within {wait:g}s\n{self.log_tail()}")

    def _check_alive(self) -> None:
        if self.process is None or self.process.poll() is not None:
            raise ServerFailed(
                f"gunicorn exited ({self.process and self.process.returncode})\n{self.log_tail()}"
            )

    def worker_pids(self) -> set[int]:
        """The master's live child processes: its workers."""
        if self.process is None:
            return set()
        pid = self.process.pid
        try:
            text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        except OSError:
            return set()
        return {int(p) for p in text.split()}

    def workers_cpu_seconds(self) -> float:
        """CPU time (user + system) the live workers have used so far.

        On a shared machine, CPU per request moves far less than requests per
        second do, so it is the steadier figure to compare.
        """
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.worker_pids():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        return total / ticks

    def log_tail(self, chars: int = 4000) -> str:
        """The end of gunicorn's error log (boot messages, tracebacks, timeouts)."""
        try:
            text = self.error_log.read_text(errors="replace")
        except OSError:
            return "(no gunicorn log)"
        return text[-chars:]

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL the process group if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def __enter__(self) -> Gunicorn:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reach_every_worker(self, path: str, rounds: int = 20) -> dict[int, Response]:
        """GET `path` until every live worker has answered; {pid: its response}.

        Responses do not say which worker answered, so each probe carries a
        unique query string and the access log (which records the pid) says
        who served it. A worker that has just answered grabs the next
        connection first, so sequential probes all land on one worker: each
        round opens several connections with unfinished headers at once (a
        sync worker that accepts one is pinned until it is finished, so the
        next goes to another worker), then finishes them. gthread workers are
        not pinned, but share the connections at random: one or two rounds
        usually reach both. Bounded by `rounds`; a worker that never answered
        is simply missing from the result.
        """
        token = f"{os.getpid()}-{time.monotonic_ns()}"
        joiner = "&" if "?" in path else "?"
        wanted = self.worker_pids()
        answers: dict[str, Response] = {}
        by_pid: dict[int, Response] = {}
        for number in range(rounds):
            probes = [f"{token}-{number}-{n}" for n in range(2 * self.workers)]
            with contextlib.ExitStack() as stack:
                socks = []
                for probe in probes:
                    sock = stack.enter_context(
                        socket.create_connection((LOOPBACK, self.port), timeout=10)
                    )
                    sock.sendall(
                        f"GET {path}{joiner}probe={probe} HTTP/1.1\r\nHost: {LOOPBACK}\r\n".encode()
                    )
                    socks.append(sock)
                time.sleep(0.1)
                for sock in socks:
                    sock.sendall(b"Connection: close\r\n\r\n")
                for probe, sock in zip(probes, socks, strict=True):
                    resp = http.client.HTTPResponse(sock)
                    resp.begin()
                    body = resp.read()
                    sock.close()  # at once: gunicorn lingers until the client closes
                    answers[probe] = Response(
                        resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
                    )
            by_pid = self._probes_by_pid(answers)
            if wanted <= set(by_pid):
                break
        return {pid: resp for pid, resp in by_pid.items() if pid in wanted}

    def pool_by_worker(self) -> dict[int, Any]:
        """`/health/pool` from each live worker: {pid: {"checked_out": n, "status": ...}}."""
        found = self.reach_every_worker("/health/pool")
        for pid, resp in found.items():
            if resp.status != 200:
                raise ServerFailed(
                    f"/health/pool on worker {pid} answered {resp.status}: {resp.body[:300]!r}"
                )
        return {pid: resp.json() for pid, resp in found.items()}

    def _probes_by_pid(
        self, bodies: Mapping[str, Response], wait: float = 2.0
    ) -> dict[int, Response]:
        """Match probes to the access log (written just after each response)."""
        deadline = time.monotonic() + wait
        found: dict[str, int] = {}
        while True:
            for line in self.access_log.read_text(errors="replace").splitlines():
                match = _ACCESS_LINE.match(line)
                if match and "probe=" in match["target"]:
                    probe = match["target"].split("probe=", 1)[1]
                    if probe in bodies:
                        found[probe] = int(match["pid"])
            if len(found) == len(bodies) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        return {pid: bodies[probe] for probe, pid in found.items()}


# --------------------------------------------------------------------------
# Load generation
# --------------------------------------------------------------------------


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
