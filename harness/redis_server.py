"""A throwaway Redis server for the suite, on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

from harness.processes import (
    START_ATTEMPTS,
    ServerUnavailable,
    free_port,
    private_tmpdir,
    stop_process,
)


def _redis_ping(port: int) -> bool:
    """Whether a Redis server answers PING on the port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """Run a throwaway Redis server without persistence; yield its URL."""
    exe = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
    )
    if exe is None:
        raise ServerUnavailable(
            "redis-server not found on PATH; bin/test installs it with apt-get when run as root"
        )
    base = private_tmpdir("tpl-redis-")
    log = base / "redis.log"
    process: subprocess.Popen[bytes] | None = None
    port = 0
    try:
        for _ in range(START_ATTEMPTS):
            port = free_port()
            process = subprocess.Popen(
                [
                    exe,
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(base),
                    "--logfile",
                    str(log),
                    "--daemonize",
                    "no",
                ],
                cwd=base,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + 30
            while process.poll() is None and time.monotonic() < deadline:
                if _redis_ping(port):
                    break
                time.sleep(0.05)
            if process.poll() is None and _redis_ping(port):
                break
            stop_process(process)
            process = None
        if process is None:
            text = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"redis-server did not start:\n{text[-4000:]}")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        if process is not None:
            stop_process(process)
        shutil.rmtree(base, ignore_errors=True)
