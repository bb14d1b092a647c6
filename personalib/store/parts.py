"""Atomic Parquet parts: write, list, check, verify and set aside.

A part is written with `personalib.files.atomic_write` (a hidden temp file in its final directory,
fsynced, renamed with `os.replace`, the directory fsynced). A reader only
ever lists `part-*.parquet`, so a crash, `kill -9` or a full disk leaves at most a temp file that
no reader sees. Names carry UTC time, host, pid and a random uuid, so workers on several nodes
never collide.

Integrity (store format 2): a part's name ends with `-h<first 32 hex digits of the sha256 of its
bytes>`, so a part is its own checksum: `verify_part` rehashes the file and compares. Parts are
written with Parquet page checksums (CRC32 of every data page), which every read verifies; the
content hash also catches what page checksums miss (page headers, footer statistics) and is
checked before any text is read back (`personalib.store.Store.read`) and by `status --verify`.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from personalib.errors import StoreError
from personalib.files import TEMP_PREFIX, atomic_write, file_sha256
from personalib.store.schema import schema_problem

__all__ = [
    "PART_GLOB",
    "TEMP_PREFIX",
    "CorruptPart",
    "content_hash",
    "file_hash",
    "part_hash",
    "verify_part",
    "write_part",
    "write_atomic",
    "write_json_atomic",
    "part_name",
    "list_parts",
    "check_part",
    "set_aside",
    "stale_temp_files",
]

log = logging.getLogger("personalib.store")

PART_GLOB = "part-*.parquet"
HASH_CHARS = 32
_HASHED = re.compile(rf"-h([0-9a-f]{{{HASH_CHARS}}})\.parquet$")
WRITE_OPTIONS = {"compression": "zstd", "write_page_checksum": True}
"""How every Parquet file of a store is written (zstd, CRC32 page checksums)."""


@dataclass(frozen=True)
class CorruptPart:
    """A part that could not be read as data, and where it was moved."""

    name: str
    reason: str
    moved_to: str | None


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())[:40] or "host"


def part_name(prefix: str = "part") -> str:
    """`<prefix>-<UTC time>-<host>-<pid>-<uuid>.parquet`: unique across hosts and processes."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    return f"{prefix}-{stamp}-{_host()}-{os.getpid()}-{uuid.uuid4().hex[:12]}.parquet"


def _write_then_replace(final: Path, data: bytes | str) -> Path:
    """`personalib.files.atomic_write`, its OSError told as a StoreError naming the file."""
    try:
        return atomic_write(final, data)
    except OSError as exc:
        raise StoreError(
            f"could not write {final.parent.name}/{final.name} in {final.parent.parent}: "
            f"{exc.strerror or exc} (disk full or no permission?); this file was not written, "
            "the files written before it are kept"
        ) from exc


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=max(len(table), 1), **WRITE_OPTIONS)
    return sink.getvalue()


def write_atomic(table: pa.Table, final: Path) -> Path:
    """Write `table` as one Parquet file (one row group, zstd, page checksums) at `final`, all or
    nothing."""
    data = _parquet_bytes(table)
    return _write_then_replace(final, data)


def content_hash(data: bytes) -> str:
    """The content hash a part's name carries: the first 32 hex digits of sha256(bytes)."""
    return hashlib.sha256(data).hexdigest()[:HASH_CHARS]


def write_part(table: pa.Table, directory: Path, prefix: str = "part") -> Path:
    """Write `table` as a new part in `directory`, named `<part_name>-h<content hash>.parquet`."""
    data = _parquet_bytes(table)
    name = part_name(prefix).removesuffix(".parquet") + f"-h{content_hash(data)}.parquet"
    return _write_then_replace(directory / name, data)


def part_hash(path: Path) -> str | None:
    """The content hash in a part's name, or None for a part written before store format 2."""
    match = _HASHED.search(path.name)
    return match.group(1) if match else None


def file_hash(path: Path) -> str:
    """`content_hash` of a file's bytes, read in chunks."""
    return file_sha256(path, 1 << 22)[:HASH_CHARS]


def verify_part(path: Path) -> str | None:
    """Why a part's bytes do not match the content hash in its name, or None when they do (or
    when the part has no hash: written before store format 2, see `personalib.store.upgrade`)."""
    expected = part_hash(path)
    if expected is None:
        return None
    try:
        actual = file_hash(path)
    except FileNotFoundError:
        return None  # moved aside by another reader meanwhile
    except OSError as exc:
        return f"unreadable ({exc})"
    if actual != expected:
        return f"content hash mismatch (name says {expected}, bytes hash to {actual}): the file was changed after it was written"
    return None


def write_json_atomic(text: str, final: Path) -> Path:
    """Write `text` (UTF-8) at `final`, all or nothing (manifests)."""
    return _write_then_replace(final, text)


def list_parts(directory: Path, pattern: str = PART_GLOB) -> list[Path]:
    """Visible parts in name order (oldest first); temp files are never listed."""
    if not directory.is_dir():
        return []
    return sorted(directory.glob(pattern))


def check_part(path: Path, expected: pa.Schema) -> str | None:
    """Why `path` is not a readable part (no footer, bad schema, no rows), or None when it is."""
    try:
        meta = pq.read_metadata(path)
        schema = meta.schema.to_arrow_schema()
    except FileNotFoundError:
        return None  # moved aside by another reader meanwhile
    except (pa.ArrowException, OSError) as exc:
        return f"unreadable Parquet footer ({exc})"
    problem = schema_problem(schema, expected)
    if problem:
        return f"unexpected schema: {problem}"
    if meta.num_rows == 0:
        return "no rows"
    return None


def set_aside(path: Path, corrupt_dir: Path, reason: str) -> CorruptPart:
    """Move a bad part to `corrupt_dir` (keeping its name) and log a warning naming it."""
    corrupt_dir.mkdir(parents=True, exist_ok=True)
    target = corrupt_dir / path.name
    try:
        os.replace(path, target)
        moved: str | None = str(target)
    except FileNotFoundError:
        moved = str(target) if target.exists() else None
    log.warning("corrupt store part %s: %s; moved aside to %s, the rest stays readable", path, reason, moved)
    return CorruptPart(name=path.name, reason=reason, moved_to=moved)


def stale_temp_files(directory: Path, older_than_s: float) -> list[Path]:
    """Temp files left by crashed writers (older than `older_than_s`): never data, safe to delete."""
    if not directory.is_dir():
        return []
    cutoff = time.time() - older_than_s
    out = []
    for path in directory.glob(f"{TEMP_PREFIX}*"):
        try:
            if path.stat().st_mtime < cutoff:
                out.append(path)
        except FileNotFoundError:
            continue
    return sorted(out)
