"""Which (model, dataset, persona set) groups each store file holds, read once and remembered.

A store part (or plan) never changes once written: its name carries its content hash (parts of
store format 2) or its digest (plans), so what it holds can be recorded once, in a small JSON file
per part under `<store>/index/` (or the user cache when the store is read-only). Commands that work
one model or dataset at a time (`status`, the outcome tables, `generate --dry-run`) find the files
they need from this index without opening every file again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from personalib.errors import PersonalibError
from personalib.paths import cache_dir
from personalib.store.parts import check_part, list_parts, part_hash, write_json_atomic
from personalib.store.schema import PLAN_SCHEMA, ROW_SCHEMA
from personalib.store.store import Store
from personalib.writable import folder_problem

__all__ = ["Group", "file_token", "index_root", "indexed_files", "file_groups", "settings_rows", "sidecar"]

Group = tuple[str, str, str, int]
"""(model, dataset, persona set, rows) of one store file."""
INDEX_VERSION = 2


def sidecar(store: Store, *parts: str) -> Path:
    """A folder of derived data kept beside the store (`<store>/<parts...>`), or, when the store
    folder cannot be written, the same under the user cache (`<cache>/stores/<store digest>/`)."""
    beside = store.path.joinpath(*parts)
    if folder_problem(beside) is None:
        return beside
    digest = hashlib.sha256(str(store.path.resolve()).encode()).hexdigest()[:16]
    return cache_dir().joinpath("stores", digest, *parts)


def index_root(store: Store) -> Path:
    """Where the index of `store` lives (`sidecar`: `<store>/index/v<n>`)."""
    return sidecar(store, "index", f"v{INDEX_VERSION}")


def file_token(path: Path) -> str:
    """A name for a file's content: its stem when it carries its content hash or digest (format-2
    parts, plans); otherwise its stem with a digest of its size and modification time."""
    if part_hash(path) is not None or path.name.startswith("plan-"):
        return path.stem
    stat = path.stat()
    return f"{path.stem}-m{hashlib.sha256(f'{stat.st_size}:{stat.st_mtime_ns}'.encode()).hexdigest()[:12]}"


def _entry(root: Path, path: Path, remember: bool) -> dict:
    """The index entry of one part or plan: its groups and, for parts, the settings fingerprints
    of each model's rows (read once, then from the index; `remember=False` reads without writing
    the index, for commands that must write nothing)."""
    index = root / f"{file_token(path)}.json"
    try:
        return json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    has_settings = "settings" in pq.read_schema(path).names
    table = pq.read_table(path, columns=["model", "dataset", "persona_set"] + (["settings"] if has_settings else []),
                          page_checksum_verification=True)
    counts = table.group_by(["model", "dataset", "persona_set"], use_threads=False).aggregate([([], "count_all")])
    entry: dict = {"groups": sorted([r["model"], r["dataset"], r["persona_set"], int(r["count_all"])]
                                    for r in counts.to_pylist())}
    if path.name.startswith("part-"):
        if not has_settings:
            table = table.append_column("settings", pa.nulls(table.num_rows, pa.string()))
        by = table.group_by(["model", "settings"], use_threads=False).aggregate([([], "count_all")])
        entry["settings"] = sorted(([r["model"], r["settings"], int(r["count_all"])] for r in by.to_pylist()),
                                   key=lambda r: (r[0], r[1] or ""))
    if remember:
        try:
            write_json_atomic(json.dumps(entry) + "\n", index)
        except PersonalibError:  # an index that cannot be written is read again next time
            pass
    return entry


def file_groups(root: Path, path: Path, *, remember: bool = True) -> list[Group]:
    """The groups one part or plan holds (`_entry`)."""
    return [tuple(g) for g in _entry(root, path, remember)["groups"]]  # type: ignore[misc]


def settings_rows(store: Store, model: str, *, remember: bool = True) -> dict[str | None, int]:
    """How many stored rows of `model` carry each settings fingerprint (None: unknown, store
    format 1), from the index."""
    root = index_root(store)
    out: dict[str | None, int] = {}
    for path, _groups in indexed_files(store, remember=remember):
        for name, value, n in _entry(root, path, remember).get("settings", []):
            if name == model:
                out[value] = out.get(value, 0) + n
    return out


def indexed_files(store: Store, kind: str = "parts", *, remember: bool = True) -> Iterator[tuple[Path, list[Group]]]:
    """Every readable part (`kind="parts"`) or plan (`"plans"`) with its groups. A file not yet
    indexed is checked first (footer and schema); a bad part is set aside as on every read (with
    `remember=False` it is skipped, and nothing is written: no index, no move)."""
    root = index_root(store)
    folder, pattern, schema = ((store.parts_dir, "part-*.parquet", ROW_SCHEMA) if kind == "parts"
                               else (store.plans_dir, "plan-*.parquet", PLAN_SCHEMA))
    for path in list_parts(folder, pattern):
        if not (root / f"{file_token(path)}.json").exists():
            reason = check_part(path, schema)
            if reason is not None:
                if kind == "parts" and remember:
                    store.put_aside(path, reason)
                continue
        try:
            yield path, file_groups(root, path, remember=remember)
        except FileNotFoundError:
            continue  # set aside by another reader meanwhile
