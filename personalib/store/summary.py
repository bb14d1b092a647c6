"""What a store holds against what its runs planned (`python -m personalib status`; issue 4 item 4).

Per model, dataset and persona set: `stored` (distinct entries), `planned` (union of the plans
recorded by the runs in the store), `missing` (planned, not stored) and `duplicates` (rows stored
again for an entry already stored, e.g. by two workers racing; they are dropped on read).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from personalib.store.store import ROW_IDENTITY, Store

__all__ = ["GROUP", "corrupt_notices", "summarize"]

GROUP: tuple[str, ...] = ("model", "dataset", "persona_set")


def _counts(table: pa.Table) -> dict[tuple, int]:
    if table.num_rows == 0:
        return {}
    grouped = table.select(list(GROUP)).group_by(list(GROUP)).aggregate([([], "count_all")])
    return {
        tuple(row[c] for c in GROUP): int(row["count_all"]) for row in grouped.to_pylist()
    }


def summarize(store: Store) -> dict[str, Any]:
    """Totals (`stored`, `planned`, `missing`, `duplicates`) and the per-group breakdown."""
    raw = store.read_raw([*ROW_IDENTITY, "origin"])
    entries = raw.select(list(ROW_IDENTITY))
    distinct = entries.group_by(list(ROW_IDENTITY), use_threads=False).aggregate([]) if raw.num_rows else entries
    planned = store.planned()
    if planned.num_rows and distinct.num_rows:
        missing = planned.join(distinct, keys=list(ROW_IDENTITY), join_type="left anti")
    else:
        missing = planned
    rows_by = _counts(raw)
    stored_by = _counts(distinct)
    planned_by = _counts(planned)
    missing_by = _counts(missing)
    groups = []
    for group in sorted(set(rows_by) | set(planned_by)):
        groups.append(
            {
                **dict(zip(GROUP, group)),
                "stored": stored_by.get(group, 0),
                "planned": planned_by.get(group, 0),
                "missing": missing_by.get(group, 0),
                "duplicates": rows_by.get(group, 0) - stored_by.get(group, 0),
            }
        )
    manifests = store.manifests()
    return {
        "store": str(store.path),
        "format": store.format(),
        "parts_without_hash": len(store.unverifiable()),
        "stored": distinct.num_rows,
        "planned": planned.num_rows,
        "missing": missing.num_rows,
        "duplicates": raw.num_rows - distinct.num_rows,
        "parts": len(store.parts()),
        "corrupt_set_aside": [vars(c) for c in store.set_aside],
        "corrupt_dir": sorted(p.name for p in store.corrupt_dir.glob("*")) if store.corrupt_dir.is_dir() else [],
        "runs": [
            {
                "run_id": m.get("run_id"),
                "status": m.get("status"),
                "models": [entry.get("name") for entry in m.get("models", [])],
                "started_at": m.get("started_at"),
                "ended_at": m.get("ended_at"),
                "counts": m.get("counts"),
            }
            for m in manifests
        ],
        "groups": groups,
    }


def corrupt_notices(parts: list[dict[str, Any]]) -> list[str]:
    """One line per corrupt part set aside (`summarize(...)["corrupt_set_aside"]`), for stderr."""
    return [f"notice: corrupt store part {p['name']} ({p['reason']}) moved to {p['moved_to']}" for p in parts]
