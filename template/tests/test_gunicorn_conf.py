"""gunicorn.conf.py: settings from the environment, and a pool that fits them."""

import os
import runpy
from pathlib import Path
from typing import Any

import pytest

CONF = Path(__file__).resolve().parents[1] / "gunicorn.conf.py"
VARIABLES = ("WEB_CONCURRENCY", "GUNICORN_THREADS", "GUNICORN_TIMEOUT", "PORT")


def load_conf(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> Any:
    """The settings gunicorn would read, with only ``env`` set (no .env found)."""
    monkeypatch.chdir(tmp_path)  # keep the project's .env out of this process
    for name in (*VARIABLES, "TASKS_MAX_WORKERS", "DATABASE_POOL_SIZE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONF))


def test_defaults_suit_a_container(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    conf = load_conf(monkeypatch, tmp_path)

    assert conf["workers"] == 2
    assert conf["threads"] == 4
    assert conf["worker_class"] == "gthread"
    assert conf["bind"] == ["0.0.0.0:8000"]
    assert conf["timeout"] == 30


def test_pool_has_a_connection_for_every_thread_of_a_worker(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    conf = load_conf(
        monkeypatch, tmp_path, GUNICORN_THREADS="8", TASKS_MAX_WORKERS="3", PORT="9001"
    )

    assert conf["threads"] == 8
    assert conf["bind"] == ["0.0.0.0:9001"]
    assert os.environ["DATABASE_POOL_SIZE"] == "11"


def test_a_pool_size_set_by_the_user_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    load_conf(monkeypatch, tmp_path, DATABASE_POOL_SIZE="3")

    assert os.environ["DATABASE_POOL_SIZE"] == "3"


def test_a_malformed_number_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(SystemExit, match="WEB_CONCURRENCY must be a whole number"):
        load_conf(monkeypatch, tmp_path, WEB_CONCURRENCY="two")
