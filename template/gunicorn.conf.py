"""gunicorn settings, read when gunicorn starts in this directory.

Serve with ``gunicorn '<package>:create_app()'`` from the project root. Every
setting comes from the environment with a default suited to a container:

- ``PORT`` (8000): listen on ``0.0.0.0:$PORT``; ``--bind`` on the command
  line wins (``--bind 127.0.0.1:8000`` keeps it off the network).
- ``WEB_CONCURRENCY`` (2): worker processes, about one per core.
- ``GUNICORN_THREADS`` (4): request threads per worker (gthread workers).
- ``GUNICORN_TIMEOUT`` (30): seconds a silent worker lives before a restart.

``.env`` is loaded as the ``flask`` command loads it (real environment
variables win), before the app is built in the workers.
"""

import os

from flask.cli import load_dotenv

load_dotenv()


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value else default
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, got {value!r}") from None


workers = _env_int("WEB_CONCURRENCY", 2)
threads = _env_int("GUNICORN_THREADS", 4)
worker_class = "gthread"
bind = [f"0.0.0.0:{_env_int('PORT', 8000)}"]
timeout = _env_int("GUNICORN_TIMEOUT", 30)
graceful_timeout = timeout
keepalive = 5
accesslog = "-"

# Each request thread and each tasks.submit() thread (TASKS_MAX_WORKERS,
# config.py's default 4) of a worker may hold a pooled connection at once, so
# the pool has room for all of them: no thread ever waits on its own worker.
# A DATABASE_POOL_SIZE set in the environment or .env wins.
_task_threads = _env_int("TASKS_MAX_WORKERS", 4)
os.environ.setdefault("DATABASE_POOL_SIZE", str(threads + _task_threads))

# The app is built in each worker (no preload), so no connection is shared
# across fork(); with --preload the app drops inherited pools in the child
# (database.py registers that with os.register_at_fork).
preload_app = False

# gunicorn 24+ opens a control socket at one path per user, which every project
# on a machine would share; nothing here uses it.
control_socket_disable = True
