"""Where personalib keeps its cache, stores and reports."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"


def project_root() -> Path:
    """The repository root when running from a checkout (holds `params/`), else the cwd."""
    env = os.environ.get("PERSONALIB_ROOT")
    if env:
        return Path(env).resolve()
    candidate = PACKAGE_DIR.parent
    if (candidate / "params").is_dir():
        return candidate
    return Path.cwd()


def params_dir() -> Path:
    """The `params/` folder (models and profiles)."""
    return project_root() / "params"


def cache_dir() -> Path:
    """Download/model cache: `$PERSONALIB_CACHE`, default `~/.cache/personalib`."""
    env = os.environ.get("PERSONALIB_CACHE")
    path = Path(env) if env else Path.home() / ".cache" / "personalib"
    return path.expanduser()


def user_path(value: str | Path) -> Path:
    """A path typed on the command line: `~` expanded, relative to the current directory (as in
    every command-line tool), made absolute. Paths inside a profile are relative to the project
    root instead (`personalib.params.resolve_path`)."""
    return Path(os.path.abspath(Path(value).expanduser()))
