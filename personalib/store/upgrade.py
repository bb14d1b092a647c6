"""Bring a store written before format 2 to format 2 without losing or changing a generation.

Format 2 (personalib.store.store) adds two things to every part: the hash of its bytes in its name
and the settings fingerprint of every row (`settings`). `upgrade` rewrites each format-1 part as
a format-2 part holding the same rows (every column unchanged, `settings` filled in), checks that
the new part reads back equal, and only then removes the old one. The new part's name is derived
from the old one's, so a crash at any point is repaired by running `upgrade` again: a part already
rewritten is not written twice, and no generation is stored twice.

Where a row's settings come from: imported rows are `released`; a generated row takes the
fingerprint its run's manifest recorded (or computes it from the manifest's model entry: model id,
revision, decoding, persona placement, prompt format, backend); a row whose manifest is gone keeps
`settings` null (unknown), which the analysis reads as "made with the current settings" and says so.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pyarrow as pa
import pyarrow.parquet as pq

from personalib.errors import StoreError
from personalib.store.keys import settings_fingerprint
from personalib.store.parts import _parquet_bytes, _write_then_replace, content_hash, list_parts, part_hash
from personalib.store.schema import RELEASED_SETTINGS, ROW_SCHEMA
from personalib.store.store import STORE_FORMAT, Store

__all__ = ["UpgradeSummary", "upgrade", "manifest_settings"]

API_BACKENDS = ("openai", "openai-batch")


@dataclass
class UpgradeSummary:
    """What `upgrade` did: parts rewritten / already in format 2, rows, rows of unknown settings."""

    format_before: int
    parts_rewritten: int = 0
    parts_current: int = 0
    rows: int = 0
    unknown_settings: int = 0
    runs_without_manifest: list[str] = field(default_factory=list)


def manifest_settings(manifest: dict[str, Any]) -> dict[str, str | None]:
    """Model name -> settings fingerprint of a generation run's manifest (None when the manifest
    lacks what the fingerprint needs)."""
    out: dict[str, str | None] = {}
    for entry in manifest.get("models") or []:
        name = entry.get("name")
        if entry.get("settings"):
            out[name] = entry["settings"]
            continue
        try:
            out[name] = settings_fingerprint(
                entry["model_id"], entry.get("revision"), entry["decoding"],
                placement=entry["persona_placement_param"], prompt_format=entry["prompt_format"],
                interface="api" if entry.get("backend") in API_BACKENDS else "local",
            )  # fmt: skip
        except (KeyError, TypeError, ValueError):
            out[name] = None
    return out


def _settings_column(table: pa.Table, manifests: dict[str, dict[str, Any]], summary: UpgradeSummary) -> pa.Array:
    have = table.column("settings").to_pylist() if "settings" in table.column_names else [None] * table.num_rows
    cache: dict[tuple[str, str, str], str | None] = {}
    values = []
    for current, run_id, model, origin in zip(
        have, table.column("run_id").to_pylist(), table.column("model").to_pylist(),
        table.column("origin").to_pylist(),
    ):  # fmt: skip
        if current is None:
            key = (run_id, model, origin)
            if key not in cache:
                if origin == "imported":
                    cache[key] = RELEASED_SETTINGS
                elif run_id in manifests:
                    cache[key] = manifest_settings(manifests[run_id]).get(model)
                else:
                    cache[key] = None
                    if run_id not in summary.runs_without_manifest:
                        summary.runs_without_manifest.append(run_id)
            current = cache[key]
        summary.unknown_settings += current is None
        values.append(current)
    return pa.array(values, type=pa.string())


def _rewrite(store: Store, path: Path, manifests: dict[str, dict[str, Any]], summary: UpgradeSummary) -> None:
    old = pq.read_table(path)
    filled = _settings_column(old, manifests, summary)
    columns = [old.column(f.name) if f.name in old.column_names else filled for f in ROW_SCHEMA]
    columns[ROW_SCHEMA.get_field_index("settings")] = filled
    new = pa.Table.from_arrays(columns, schema=ROW_SCHEMA)
    data = _parquet_bytes(new)
    target = path.with_name(f"{path.stem}-h{content_hash(data)}.parquet")
    if not target.exists():
        _write_then_replace(target, data)
    back = pq.read_table(target, page_checksum_verification=True)
    if not back.select(old.column_names).equals(old.cast(back.select(old.column_names).schema)):
        raise StoreError(f"upgrade: {target.name} does not read back equal to {path.name}; the old part is "
                         "kept, nothing was lost. Report this as a bug.")
    path.unlink()
    summary.parts_rewritten += 1
    summary.rows += new.num_rows


def upgrade(store: Store, out: TextIO = sys.stderr) -> UpgradeSummary:
    """Bring `store` to the current format (module doc); a store already current is left as it is."""
    if not store.exists():
        raise StoreError(f"no generation store at {store.path} (no parts/, plans/ or manifests/ folder)")
    summary = UpgradeSummary(format_before=store.format())
    if summary.format_before > STORE_FORMAT:
        raise StoreError(f"{store.path} is in store format {summary.format_before}, newer than this version's "
                         f"{STORE_FORMAT}: upgrade personalib instead")
    manifests = {str(m.get("run_id")): m for m in store.manifests()}
    store.parts()  # sets aside parts whose footer or schema is broken, as every read does
    for path in list_parts(store.parts_dir):
        if part_hash(path) is not None:
            summary.parts_current += 1
            continue
        _rewrite(store, path, manifests, summary)
        print(f"upgraded {path.name}", file=out, flush=True)
    _write_then_replace(store.format_file, json.dumps({"format": STORE_FORMAT}) + "\n")
    return summary
