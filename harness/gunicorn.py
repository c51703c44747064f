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
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.http_requests import LOOPBACK, Response

#: The access log line: worker pid, request line, status. The pid is what lets
#: a caller tell which worker answered (the app's own responses do not say).
ACCESS_LOG_FORMAT = '%(p)s "%(r)s" %(s)s'
_ACCESS_LINE = re.compile(
    r'^<(?P<pid>\d+)> "(?P<method>\S+) (?P<target>\S+) [^"]*" (?P<status>\d{3})'
)


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
