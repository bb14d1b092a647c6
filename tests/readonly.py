"""Running the CLI against a folder that is really read-only, though the tests run as root.

Root ignores file permissions, so a `chmod` proves nothing. The folder is bind-mounted read-only
onto itself in a private mount namespace of the child process (`unshare --mount`, then
`mount --bind` and `mount -o remount,bind,ro`): inside, every write under it fails with EROFS,
whoever runs; outside the namespace nothing changes. Where mounting is not allowed (no
CAP_SYS_ADMIN, no `unshare`), `read_only_runner` skips the test with the reason. (Running the CLI
as an unprivileged user with `setpriv` is no alternative here: that user cannot execute the
virtual environment's interpreter, which lives under root's home.)
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

_SCRIPT = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1" && shift && exec "$@"'


def _wrap(folder: Path, argv: list[str]) -> list[str]:
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", _SCRIPT, "sh", str(folder), *argv]


@functools.lru_cache(maxsize=1)
def _unavailable() -> str | None:
    """Why a read-only bind mount cannot be made here, or None when it works (tried once)."""
    if shutil.which("unshare") is None:
        return "`unshare` is not installed"
    with tempfile.TemporaryDirectory() as folder:
        probe = subprocess.run(_wrap(Path(folder), ["touch", str(Path(folder) / "x")]),
                               capture_output=True, text=True, timeout=30)
        if probe.returncode == 0 or "Read-only file system" not in probe.stderr:
            return f"a read-only bind mount is not allowed here ({probe.stderr.strip()[:200] or 'no error'})"
    return None


def read_only_runner() -> Callable[..., subprocess.CompletedProcess]:
    """`run(folder, *args, cwd=None)`: `python -m personalib ARGS` with `folder` mounted read-only."""
    reason = _unavailable()
    if reason:
        pytest.skip(f"no read-only constraint available: {reason}")

    def run(folder: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        argv = [sys.executable, "-m", "personalib", *args]
        return subprocess.run(_wrap(folder, argv), cwd=cwd, capture_output=True, text=True,
                              env=dict(os.environ), timeout=300)

    return run
