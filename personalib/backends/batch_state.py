"""The on-disk state of the `openai-batch` backend, so a restarted run collects, never resubmits.

Layout of a state folder (one per model and store; the engine passes it, default
`<cache>/openai-batch/<model name>`):

    state.json          {"version": 1, "batches": [entry, ...]}, replaced atomically on every change
    part-000001.jsonl   the exact JSONL uploaded for that entry (custom_id = store key per line)
    .lock               held by the process using the folder (one at a time)

An entry records, as soon as each exists: its local request file, the uploaded `input_file_id`, the
`batch_id`, the last seen `status`, and `collected` once its answers were handed to the engine.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from personalib.errors import PersonalibError
from personalib.store.parts import write_json_atomic

STATE_FILE = "state.json"
STATE_VERSION = 1


@dataclass
class BatchEntry:
    """One submitted (or about to be submitted) batch."""

    name: str
    n_requests: int
    input_file_id: str | None = None
    batch_id: str | None = None
    status: str | None = None
    collected: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def requests_file(self) -> str:
        return f"{self.name}.jsonl"


class BatchState:
    """A state folder (module doc); use as a context manager to hold its lock."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / STATE_FILE
        self.entries: list[BatchEntry] = []
        self._lock: FileLock | None = None

    def __enter__(self) -> BatchState:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(self.folder / ".lock"))
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            raise PersonalibError(
                f"the Batch API state folder {self.folder} is in use by another process; run one "
                "process per state folder (give each shard its own store or state_dir)"
            ) from None
        self.entries = self._load()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._lock is not None:
            self._lock.release()

    def _load(self) -> list[BatchEntry]:
        if not self.path.exists():
            return []
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("version") != STATE_VERSION:
                raise ValueError(f"version {data.get('version')!r}, expected {STATE_VERSION}")
            return [BatchEntry(**entry) for entry in data["batches"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise PersonalibError(
                f"Batch API state file {self.path} is unreadable ({exc}); it records batches already "
                "submitted: restore it, or move it away to resubmit everything not yet stored"
            ) from None

    def save(self) -> None:
        """Write state.json atomically (temp file + rename)."""
        payload = {"version": STATE_VERSION, "batches": [asdict(e) for e in self.entries]}
        write_json_atomic(json.dumps(payload, indent=1), self.path)

    def new_entry(self, lines: list[dict[str, Any]]) -> BatchEntry:
        """Record a new batch of request lines: write its JSONL, then the state."""
        number = 1 + max((int(e.name.rsplit("-", 1)[1]) for e in self.entries), default=0)
        entry = BatchEntry(name=f"part-{number:06d}", n_requests=len(lines))
        write_json_atomic(jsonl_text(lines), self.folder / entry.requests_file)
        self.entries.append(entry)
        self.save()
        return entry

    def request_bytes(self, entry: BatchEntry) -> bytes:
        """The JSONL of an entry, as uploaded."""
        path = self.folder / entry.requests_file
        try:
            return path.read_bytes()
        except OSError as exc:
            raise PersonalibError(f"Batch API request file {path} is missing ({exc}); the state in {self.path} needs it") from None

    def custom_ids(self, entry: BatchEntry) -> list[str]:
        """The store keys an entry asks for."""
        return [json.loads(line)["custom_id"] for line in self.request_bytes(entry).splitlines() if line.strip()]

    def active(self) -> list[BatchEntry]:
        """Entries not yet collected."""
        return [e for e in self.entries if not e.collected]


def jsonl_text(rows: Iterable[dict[str, Any]]) -> str:
    """Rows as JSON Lines (one object per line)."""
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)

