"""A real PgBouncer (the Debian package) in front of a test PostgreSQL server.

Transaction pooling, trust authentication, 127.0.0.1 only, on a free port, in a
private directory; run as the PostgreSQL account when the suite runs as root
(PgBouncer refuses root). It can be stopped and started again on the same port,
which is how the tests restart it under load.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from harness import servers
from harness.processes import ServerUnavailable, free_port, private_tmpdir, stop_process

#: Server connections PgBouncer opens per database and user.
POOL_SIZE = 10


def pgbouncer_binary() -> str | None:
    """Where Debian installs PgBouncer (it is not on root's PATH in every image)."""
    return shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if os.path.exists("/usr/sbin/pgbouncer") else None
    )


@dataclass
class PgBouncer:
    """One PgBouncer process in front of `postgres_url`'s server."""

    postgres_url: str
    base: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def log(self) -> Path:
        return self.base / "pgbouncer.log"

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of `database`, through PgBouncer."""
        parts = urlsplit(self.postgres_url)
        netloc = f"{parts.username}@127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc, path=f"/{database}"))

    def _write_config(self) -> Path:
        target = urlsplit(self.postgres_url)
        users = self.base / "users.txt"
        users.write_text(f'"{target.username}" ""\n')
        config = self.base / "pgbouncer.ini"
        config.write_text(
            "[databases]\n"
            # Any database name: the project's suite creates databases of its own.
            f"* = host=127.0.0.1 port={target.port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {users}\n"
            "pool_mode = transaction\n"
            # As many deployments set it: PgBouncer 1.18 otherwise refuses the
            # connection outright when an app (without DATABASE_POOLER) sends
            # libpq `options`; ignored, the app connects and its statements
            # collide, which is the gotcha the tests show doctor catching.
            "ignore_startup_parameters = options\n"
            f"default_pool_size = {POOL_SIZE}\n"
            "max_client_conn = 500\n"
            f"logfile = {self.log}\n"
        )
        return config

    def start(self, wait: float = 20.0) -> None:
        """Start (again, on the same port once it has one) and wait until it accepts."""
        binary = pgbouncer_binary()
        if binary is None:
            raise ServerUnavailable(
                "pgbouncer not found; bin/test installs it with apt-get when run as root"
            )
        self.port = self.port or free_port()
        account = servers.postgres_account()
        config = self._write_config()
        if account is not None:
            for path in (self.base, *self.base.iterdir()):
                os.chown(path, account.pw_uid, account.pw_gid)
        self.process = subprocess.Popen(
            [binary, str(config)],
            cwd=self.base,
            user=account.pw_uid if account else None,
            group=account.pw_gid if account else None,
            extra_groups=[] if account else None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            time.sleep(0.05)
        self.stop()
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        raise RuntimeError(f"pgbouncer did not start:\n{text[-4000:]}")

    def stop(self) -> None:
        """Stop at once (SIGINT: PgBouncer's immediate shutdown), closing every client."""
        if self.process is not None:
            stop_process(self.process, polite=signal.SIGINT)

    def restart(self, down_for: float = 0.5) -> None:
        """Stop, stay down a moment (clients see refused connections), start again."""
        self.stop()
        time.sleep(down_for)
        self.start()


@contextlib.contextmanager
def pgbouncer(postgres_url: str) -> Iterator[PgBouncer]:
    """Run PgBouncer in front of the server of `postgres_url` for the block."""
    bouncer = PgBouncer(postgres_url, private_tmpdir("tpl-pgbouncer-"))
    try:
        bouncer.start()
        yield bouncer
    finally:
        bouncer.stop()
        shutil.rmtree(bouncer.base, ignore_errors=True)
