"""Files written all or nothing, and file digests: the one copy the package uses for each.

An atomic write puts the bytes in a temp file beside the target (a name unique to the writer, so
two processes writing the same target never share one), flushes and fsyncs it, renames it over the
target with `os.replace` (atomic on POSIX and on NFS servers) and fsyncs the folder. A reader sees
the old file or the new one, never part of one; a crash leaves at most a hidden temp file, which
readers never list. On any error the temp file is removed and the error propagates.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["TEMP_PREFIX", "atomic_write", "file_sha256", "fsync_dir"]

TEMP_PREFIX = ".tmp-"
"""Temp files of atomic writes start with this (hidden; never taken for data)."""

_CHUNK = 1 << 20


def fsync_dir(directory: Path) -> None:
    """Flush a folder's entries (a rename into it) to disk, where the filesystem allows it."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # some filesystems do not allow opening directories
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(final: Path, data: bytes | str | Callable[[BinaryIO], object]) -> Path:
    """Write `data` at `final`, all or nothing (module doc); the folder is created if needed.

    `data` is the file's bytes, a text (written as UTF-8) or a function that writes into the open
    binary handle (e.g. `numpy.savez_compressed`). Returns `final`.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = final.parent / f"{TEMP_PREFIX}{final.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    try:
        with open(temp, "wb") as handle:
            if callable(data):
                data(handle)
            else:
                handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, final)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(final.parent)
    return final


def file_sha256(path: Path, chunk: int = _CHUNK) -> str:
    """Hex sha256 of a file's bytes, read in chunks (never the whole file in memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
