"""Run manifests: what produced the generations in a store.

A manifest records package and library versions, the git commit, model id and revision, chat
template hash, persona placement (METHODS 2), decoding, seed, profile, shard, start/end and counts.
It never records a secret: `scrub` drops any value held under a key that names one (`api_key`,
`token`, `password`, ...; not `api_key_env`, which names the variable) and masks any string that
contains the value of an environment variable whose name does (e.g. OPENAI_API_KEY, HF_TOKEN);
the rule of what is a secret is `personalib.redact`'s.
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
from pathlib import Path
from typing import Any

import personalib
from personalib.paths import PACKAGE_DIR
from personalib.redact import is_secret_name, mask, secret_values

__all__ = [
    "environment", "git_commit", "scrub", "utc_now", "new_run_id", "LIBRARIES", "STALE_AFTER_S",
    "process_identity", "run_state",
]

STALE_AFTER_S = 6 * 3600.0
"""A "running" run of another host whose heartbeat is older than this is reported stale."""

LIBRARIES: tuple[str, ...] = (
    "numpy", "pandas", "pyarrow", "torch", "transformers", "tokenizers", "safetensors", "gguf",
    "openai", "pydantic", "tqdm",
)  # fmt: skip

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


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def _start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux `/proc/<pid>/stat` field 22)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def process_identity() -> dict[str, Any]:
    """This process as a run manifest records it, so `status` can tell a killed run from a live
    one: host name, pid and, where the system tells them (Linux), boot id and process start time
    (a pid reused by another process after a reboot or a kill does not pass for the run)."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "boot_id": _boot_id(),
            "start_ticks": _start_ticks(os.getpid())}


def _alive(process: dict[str, Any]) -> bool:
    """True when the recorded process (of this host) still runs."""
    pid = process.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    boot = _boot_id()
    if process.get("boot_id") and boot and process["boot_id"] != boot:
        return False  # the machine rebooted since
    if process.get("start_ticks") is not None and Path("/proc").is_dir():
        return _start_ticks(pid) == process["start_ticks"]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _age_s(stamp: Any, now: datetime) -> float | None:
    try:
        then = datetime.fromisoformat(str(stamp))
    except ValueError:
        return None
    if then.tzinfo is None:
        then = then.replace(tzinfo=timezone.utc)
    return (now - then).total_seconds()


def run_state(manifest: dict[str, Any], now: datetime | None = None) -> tuple[str, str]:
    """(state, reason) of a recorded run, for `status`.

    A manifest's `status` is written by the run itself, so a run killed with SIGKILL (or whose
    machine died) stays "running" in its manifest. Its state is then "interrupted" when the run was
    on this host and its process is gone, "stale" when no heartbeat (written as chunks are stored)
    came for `STALE_AFTER_S`, and "running" otherwise; other states are the manifest's `status`
    (with its `error` as the reason).
    """
    status = str(manifest.get("status"))
    if status != "running":
        error = str(manifest.get("error") or "")
        return status, error if len(error) <= 300 else error[:297] + "..."
    process = manifest.get("process") or {}
    host, pid = process.get("host"), process.get("pid")
    if host and host == socket.gethostname():
        if _alive(process):
            return "running", f"process {pid} on this host is running"
        return "interrupted", (f"process {pid} on this host ended without finishing the run (killed?); "
                               "rerun the same command to resume")
    last = manifest.get("heartbeat_at") or manifest.get("started_at")
    age = _age_s(last, now or datetime.now(timezone.utc))
    where = f"host {host}, pid {pid}" if host else "a process this version did not record"
    if age is not None and age > STALE_AFTER_S:
        return "stale", f"no heartbeat for {age / 3600:.1f} h ({where}); probably killed: rerun the same command to resume"
    return "running", f"{where}; last heartbeat {last}"


def scrub(value: Any, _secrets: set[str] | None = None) -> Any:
    """`value` without secrets (`personalib.redact`): entries under secret-like keys dropped,
    secret environment values masked in every string."""
    secrets = set(secret_values().values()) if _secrets is None else _secrets
    if isinstance(value, dict):
        return {str(key): scrub(item, secrets) for key, item in value.items() if not is_secret_name(str(key))}
    if isinstance(value, (list, tuple)):
        return [scrub(item, secrets) for item in value]
    if isinstance(value, str):
        return mask(value, secrets)
    return value
