"""One model's outcomes on one dataset, from the part outcomes: selected, deduplicated, counted.

The analysis takes, per (persona set, persona, item), one answer: the one made with the settings
the profile defines today (`personalib.params.settings_of`: model revision, decoding, persona
placement, prompt format, interface; `released` for the study's release). Answers stored with
other settings stay in the store but are left out and counted, so a report can say how many it
ignored. Rows without a fingerprint (written before store format 2) are taken as made with the
current settings and counted too. Among equal answers (two workers racing) the earliest stored
wins, as in `personalib.store.Store.read`. The result is kept in the outcome cache, so the next
notebook reads one small file per model and dataset.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from personalib.outcomes.cache import digest, group_dir, prune, read_json, write_json, write_table
from personalib.outcomes.score import PART_SCHEMA

__all__ = ["ASSEMBLED_SCHEMA", "Assembled", "assemble"]

ASSEMBLED_SCHEMA = pa.schema([
    ("persona_set", pa.dictionary(pa.int32(), pa.string())),
    ("persona", pa.dictionary(pa.int32(), pa.string())),
    ("item", pa.int32()), ("choice", pa.int8()), ("rating", pa.int8()), ("extracted", pa.bool_()),
    ("hedge", pa.bool_()), ("refusal", pa.bool_()),
])  # fmt: skip


@dataclass(frozen=True)
class Assembled:
    """Where one model x dataset's selected outcomes are, and what was counted on the way."""

    model: str
    dataset: str
    path: Path
    counts: dict[str, Any]

    @property
    def rows(self) -> int:
        return int(self.counts["rows"])


def _codes(column: pa.ChunkedArray) -> tuple[np.ndarray, int]:
    uniques = pc.unique(column)
    return pc.index_in(column, value_set=uniques).to_numpy(zero_copy_only=False).astype(np.int64), len(uniques)


def _select(table: pa.Table, settings: str) -> tuple[pa.Table, dict[str, int], int]:
    """Rows made with `settings` or without a fingerprint; counts of the others by fingerprint."""
    column = table["settings"]
    unknown = int(column.null_count)
    other = pc.and_(pc.is_valid(column), pc.not_equal(column, settings))
    if not pc.any(other).as_py():
        return table, {}, unknown
    ignored = table.filter(other)["settings"].value_counts().to_pylist()
    return table.filter(pc.invert(other)), {v["values"]: int(v["counts"]) for v in ignored}, unknown


def _dedup(table: pa.Table) -> tuple[pa.Table, int]:
    """One row per (persona set, persona, item): the earliest stored (`Store.read`'s rule)."""
    if table.num_rows == 0:
        return table, 0
    sets, n_sets = _codes(table["persona_set"])
    personas, n_personas = _codes(table["persona"])
    items = table["item"].to_numpy().astype(np.int64)
    combined = (sets * n_personas + personas) * (int(items.max()) + 1) + items
    if np.unique(combined).size == table.num_rows:
        return table, 0
    order = np.argsort(table["created_at"].to_numpy().astype("datetime64[us]").astype(np.int64), kind="stable")
    _, first = np.unique(combined[order], return_index=True)
    keep = order[np.sort(first)]
    del n_sets
    return table.take(pa.array(keep)), table.num_rows - len(keep)


def _persona_counts(table: pa.Table) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    if table.num_rows == 0:
        return out
    grouped = table.group_by(["persona_set"], use_threads=False).aggregate(
        [([], "count_all"), ("persona", "distinct")])
    for row in grouped.to_pylist():
        names = sorted(row["persona_distinct"])
        out[row["persona_set"]] = {"rows": int(row["count_all"]), "personas": len(names), "names": names}
    return out


def assemble(root: Path, model: str, dataset: str, files: Sequence[Path], *, items_fp: str,
             settings: str, persona_sets: Sequence[str]) -> Assembled:
    """The selected outcomes of `model` on `dataset` from its part outcome `files` (module doc),
    built once and kept in the cache under a digest of everything they depend on."""
    folder = group_dir(root, "assembled", model, dataset)
    key = digest(items_fp, settings, sorted(persona_sets), sorted(p.name for p in files))
    path, meta = folder / f"{key}.parquet", folder / f"{key}.json"
    counts = read_json(meta)
    if counts is not None and path.exists():
        return Assembled(model, dataset, path, counts)
    wanted = pa.array(sorted(persona_sets), pa.string())
    parts = [pq.read_table(f, schema=PART_SCHEMA) for f in files]
    table = pa.concat_tables(parts) if parts else PART_SCHEMA.empty_table()
    table = table.filter(pc.is_in(table["persona_set"], value_set=wanted))
    table, ignored, unknown = _select(table, settings)
    table, duplicates = _dedup(table)
    out = table.select([f.name for f in ASSEMBLED_SCHEMA]).cast(pa.schema(
        [pa.field(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type) for f in ASSEMBLED_SCHEMA]))
    out = pa.table([pc.dictionary_encode(out[n].combine_chunks()) if pa.types.is_dictionary(f.type) else out[n]
                    for n, f in zip(out.column_names, ASSEMBLED_SCHEMA)], schema=ASSEMBLED_SCHEMA)
    counts = {"rows": out.num_rows, "persona_sets": _persona_counts(table), "ignored_settings": ignored,
              "unknown_settings": unknown, "duplicates": duplicates, "settings": settings}
    write_table(out, path)
    write_json(counts, meta)  # last: its presence means the table is complete
    prune(folder, {path.name, meta.name})
    return Assembled(model, dataset, path, counts)
