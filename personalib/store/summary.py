"""What a store holds against what its runs planned (`python -m personalib status`; issue 4 item 4).

Per model, dataset and persona set: `stored` (distinct entries), `planned` (union of the plans
recorded by the runs in the store), `missing` (planned, not stored) and `duplicates` (rows stored
again for an entry already stored, e.g. by two workers racing; they are dropped on read).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from personalib.store.manifest import run_state
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
        "runs": [_run(m) for m in manifests],
        "groups": groups,
    }


def _run(manifest: dict[str, Any]) -> dict[str, Any]:
    """One run of the summary: its manifest's status, and its `state` (`run_state`: a run killed
    with SIGKILL still says "running" in its manifest; its state says "interrupted" or "stale")."""
    state, reason = run_state(manifest)
    process = manifest.get("process") or {}
    return {
        "run_id": manifest.get("run_id"),
        "status": manifest.get("status"),
        "state": state,
        "state_reason": reason,
        "host": process.get("host"),
        "pid": process.get("pid"),
        "heartbeat_at": manifest.get("heartbeat_at"),
        "models": [entry.get("name") for entry in manifest.get("models", [])],
        "started_at": manifest.get("started_at"),
        "ended_at": manifest.get("ended_at"),
        "counts": manifest.get("counts"),
    }


def corrupt_notices(parts: list[dict[str, Any]]) -> list[str]:
    """One line per corrupt part found (`summarize(...)["corrupt_set_aside"]`), for stderr: where it
    was moved, or that it was left in place (a read-only store) and is skipped on read."""
    return [
        f"notice: corrupt store part {p['name']} ({p['reason']}) "
        + (f"moved to {p['moved_to']}" if p["moved_to"] else
           "left in place (the store is read-only): it is skipped on read; rerun with write access to set it aside")
        for p in parts
    ]
