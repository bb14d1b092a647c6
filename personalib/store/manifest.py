"""Run manifests: what produced the generations in a store (issue 4 item 1).

A manifest records package and library versions, the git commit, model id and revision, chat
template hash, persona placement (METHODS 2), decoding, seed, profile, shard, start/end and counts.
It never records a secret: `scrub` drops any value held under a key that names one (`api_key`,
`token`, `password`, ...; not `api_key_env`, which names the variable) and masks any string that
contains the value of an environment variable whose name does (e.g. OPENAI_API_KEY, HF_TOKEN).
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import secrets
import socket
import subprocess
import sys
from datetime import datetime, timezone
from typing import Any

import personalib
from personalib.paths import PACKAGE_DIR

__all__ = ["environment", "git_commit", "scrub", "utc_now", "new_run_id", "LIBRARIES"]

LIBRARIES: tuple[str, ...] = (
    "numpy", "pandas", "pyarrow", "torch", "transformers", "tokenizers", "safetensors", "gguf",
    "openai", "pydantic", "tqdm",
)  # fmt: skip

# A name (dict key or environment variable) that holds a secret ends with one of these words.
_SECRET_NAME = re.compile(
    r"(^|[_-])(api[_-]?key|secret|secret[_-]?key|access[_-]?key|private[_-]?key|password|passwd|token"
    r"|access[_-]?token|auth|authorization|credentials?)$",
    re.IGNORECASE,
)


def utc_now() -> str:
    """Current UTC time, ISO 8601."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_run_id() -> str:
    """`<UTC time>-<host>-<pid>-<4 random hex>`: unique per run (two runs of one process in the
    same second included), sortable by start time."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    host = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())[:40]
    return f"{stamp}-{host}-{os.getpid()}-{secrets.token_hex(2)}"


def git_commit() -> str | None:
    """The checkout's HEAD commit (with `-dirty` when it has uncommitted changes), or None."""
    root = PACKAGE_DIR.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}-dirty" if dirty else head or None


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment() -> dict[str, Any]:
    """Versions of Python, personalib and the libraries that shape generations; host and git commit."""
    return {
        "personalib": personalib.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "git_commit": git_commit(),
        "libraries": {name: _version(name) for name in LIBRARIES},
    }


def _secret_values() -> set[str]:
    return {
        value
        for name, value in os.environ.items()
        if _SECRET_NAME.search(name) and len(value) >= 8
    }


def scrub(value: Any, _secrets: set[str] | None = None) -> Any:
    """`value` without secrets: entries under secret-like keys dropped, secret env values masked."""
    secrets = _secret_values() if _secrets is None else _secrets
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            name = str(key)
            if _SECRET_NAME.search(name):
                continue
            out[name] = scrub(item, secrets)
        return out
    if isinstance(value, (list, tuple)):
        return [scrub(item, secrets) for item in value]
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, "***")
        return value
    return value
