"""A private PostgreSQL server that tests and benchmarks may stop and start.

The shared server must never go down under other tests, so fault tests get
their own from `servers.postgres_server()` and control it with `pg_ctl` here.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from harness import servers
from harness.servers import libpq_url


@dataclass
class PostgresControl:
    """A private server started with the suite's helper, plus stop and start.

    The shared `postgres_url` server must never go down under other tests, so
    fault tests get their own. Its data directory and start options are read
    back from the running server (`postmaster.opts`), so it restarts exactly
    as `servers.postgres_server()` configured it, on the same port.
    """

    url: str
    data_dir: Path
    options: list[str]

    @classmethod
    def attach(cls, url: str) -> PostgresControl:
        import psycopg

        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            row = conn.execute("SHOW data_directory").fetchone()
        assert row is not None
        data_dir = Path(row[0])
        # postmaster.opts: the binary, then each argument quoted.
        args = shlex.split((data_dir / "postmaster.opts").read_text())[1:]
        options = [
            arg for i, arg in enumerate(args) if arg != "-D" and (i == 0 or args[i - 1] != "-D")
        ]
        return cls(url, data_dir, options)

    def _pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        bindir = servers.postgres_bindir()
        assert bindir is not None
        cmd = [str(bindir / "pg_ctl"), *args, "--pgdata", str(self.data_dir)]
        cmd = servers.as_account(cmd, servers.postgres_account())  # as the server's owner
        return subprocess.run(
            cmd, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
        )

    def running(self) -> bool:
        return self._pg_ctl("status").returncode == 0

    def stop(self) -> None:
        """`pg_ctl stop -m fast`: sessions are cut, as in a real restart."""
        if self.running():
            done = self._pg_ctl("stop", "--mode", "fast", "--wait")
            assert done.returncode == 0, done.stdout + done.stderr

    def start(self) -> None:
        """Start with the original options; returns once it accepts connections."""
        if not self.running():
            log = self.data_dir.parent / "server.log"
            done = self._pg_ctl(
                "start", "--wait", "--timeout=60", "--log", str(log), "-o", shlex.join(self.options)
            )
            assert done.returncode == 0, done.stdout + done.stderr

    def restart(self, down_seconds: float = 2.0) -> None:
        """Stop, stay down for `down_seconds`, start again."""
        self.stop()
        time.sleep(down_seconds)
        self.start()
