"""Child server processes: free loopback ports, shared temp dirs, stopping politely."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

#: How many free ports a server start tries before giving up (another process
#: may take a port between our check and the server's bind).
START_ATTEMPTS = 5


class ServerUnavailable(RuntimeError):
    """A server's binaries are not installed, so tests needing it cannot run."""


def free_port() -> int:
    """Return a loopback TCP port that was free a moment ago (kernel-chosen)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def private_tmpdir(prefix: str) -> Path:
    """Make a temp dir under /tmp, which other users can reach (unlike pytest's)."""
    base = "/tmp" if os.path.isdir("/tmp") else None
    return Path(tempfile.mkdtemp(prefix=prefix, dir=base))


def stop_process(process: subprocess.Popen[bytes], polite: signal.Signals = signal.SIGTERM) -> None:
    """Stop a child server politely (``polite``: its own shutdown signal), then firmly."""
    if process.poll() is not None:
        return
    process.send_signal(polite)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
