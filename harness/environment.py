"""Keeping the user's settings out, and where the suite's caches live."""

from __future__ import annotations

import os
from pathlib import Path

from harness.git import GIT_IDENTITY, REPO_ROOT


def cache_root() -> Path:
    """Where venvs and downloads persist between runs: `.cache/` (gitignored),
    or $TEMPLATE_TESTS_CACHE."""
    override = os.environ.get("TEMPLATE_TESTS_CACHE")
    return Path(override).resolve() if override else REPO_ROOT / ".cache"


def isolation_variables(home: Path) -> dict[str, str]:
    """Variables keeping the user's copier settings and git config out (files in `home`)."""
    settings = home / "copier-settings.yml"
    settings.write_text("{}\n")  # copier wants a mapping, not an empty file
    gitconfig = home / "gitconfig"
    gitconfig.write_text("")
    return {
        "COPIER_SETTINGS_PATH": str(settings),
        "GIT_CONFIG_GLOBAL": str(gitconfig),
        "GIT_CONFIG_NOSYSTEM": "1",
        **GIT_IDENTITY,
    }
