"""What a store holds against what its runs planned (`python -m personalib status`).

Per model, dataset and persona set: `stored` (distinct entries), `planned` (union of the plans
recorded by the runs in the store), `missing` (planned, not stored) and `duplicates` (rows stored
again for an entry already stored, e.g. by two workers racing; they are dropped on read).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from personalib.errors import PersonalibError
from personalib.store.index import indexed_files
from personalib.store.manifest import run_state
from personalib.store.store import Store

__all__ = ["GROUP", "corrupt_notices", "summarize"]

GROUP: tuple[str, ...] = ("model", "dataset", "persona_set")
_HEX = np.full(256, 255, np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _HEX[_c] = 10 + _i


def _key_bits(keys: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The first 128 bits of each key (sha256 hex digests) as two uint64 arrays; a key that is not
    a hex digest is hashed first, so any string works."""
    n = len(keys)
    chars = None
    if n and pc.all(pc.equal(pc.utf8_length(keys), 64)).as_py():
        offsets = np.frombuffer(keys.buffers()[1], np.int32)[keys.offset:keys.offset + n + 1]
        data = np.frombuffer(keys.buffers()[2], np.uint8)[offsets[0]:offsets[-1]].reshape(n, 64)[:, :32]
        chars = _HEX[data]
        if (chars == 255).any():
            chars = None
    if chars is None:
        digests = [hashlib.sha256(k.encode()).hexdigest()[:32] for k in keys.to_pylist()]
        chars = _HEX[np.frombuffer("".join(digests).encode(), np.uint8).reshape(n, 32)] if n else np.zeros((0, 32), np.uint8)
    packed = (chars[:, 0::2].astype(np.uint8) << 4) | chars[:, 1::2]
    words = np.ascontiguousarray(packed).view(">u8").astype(np.uint64)
    return words[:, 0].copy(), words[:, 1].copy()


IDENTITY = np.dtype([("a", ">u8"), ("b", ">u8")])
"""An entry as 16 bytes: [persona-set code (8 bits) | 56 bits of the key] [64 bits of the key
mixed with 64-bit hashes of the label (persona set and persona) and of the item id]. Equal exactly
when key, persona set, persona and item are (up to a collision of about 120 bits: two different
sha256 keys, or one key under two labels whose hashes collide); sorting the bytes groups them."""


def _hashes(column: pa.Array, salt: str) -> np.ndarray:
    """A 64-bit hash of each string (pandas' SipHash, keyed by the 16-character `salt`), computed
    once per distinct value of the part (Arrow dictionary encoding)."""
    encoded = pc.dictionary_encode(column)
    distinct = pd.util.hash_array(encoded.dictionary.to_numpy(zero_copy_only=False), categorize=False,
                                  hash_key=salt)
    return distinct[encoded.indices.to_numpy(zero_copy_only=False)] if len(distinct) else np.zeros(0, np.uint64)


def _identities(files: dict[str, list[Path]], sizes: dict[str, int], model: str, dataset: str
                ) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Every stored (`files["parts"]`) and planned (`files["plans"]`) entry (`ROW_IDENTITY`) of one
    model x dataset as a 16-byte identity (`IDENTITY`, viewed as void so that sorting compares
    bytes), each kind filled into one preallocated array (`sizes` of them, from the index), part by
    part (nothing else is kept); and the persona-set codes."""
    out = {kind: np.empty(sizes[kind], IDENTITY) for kind in files}
    sets: dict[str, int] = {}
    for kind, paths in files.items():
        at = 0
        for path in paths:
            table = pq.read_table(path, columns=["model", "dataset", "persona_set", "persona", "item_id", "key"],
                                  page_checksum_verification=True)
            table = table.filter(pc.and_(pc.equal(table["model"], model), pc.equal(table["dataset"], dataset)))
            n = table.num_rows
            if not n:
                continue
            encoded = pc.dictionary_encode(table["persona_set"].combine_chunks())
            lookup = np.array([sets.setdefault(str(v), len(sets)) for v in encoded.dictionary.to_pylist()], np.uint64)
            set_code = lookup[encoded.indices.to_numpy(zero_copy_only=False)]
            label = _hashes(pc.binary_join_element_wise(table["persona_set"], table["persona"], "\x1f").combine_chunks(),
                            "personalib/label")
            item = _hashes(table["item_id"].combine_chunks(), "personalib/items")
            k1, k2 = _key_bits(table["key"].combine_chunks())
            out[kind]["a"][at:at + n] = (set_code << np.uint64(56)) | (k1 >> np.uint64(8))
            out[kind]["b"][at:at + n] = k2 ^ label ^ ((item << np.uint64(17)) | (item >> np.uint64(47)))
            at += n
        out[kind] = out[kind][:at]
    if len(sets) > 256:
        raise PersonalibError(f"{model}/{dataset}: more than 256 persona sets; status counts at most 256 per model and dataset")
    return {kind: array.view("V16") for kind, array in out.items()}, sets


def _first_new(entries: np.ndarray) -> np.ndarray:
    """For sorted identities: True at the first of each run of equal ones."""
    keep = np.ones(len(entries), bool)
    keep[1:] = entries[1:] != entries[:-1]
    return keep


def _set_ranges(entries: np.ndarray, codes: Iterable[int]) -> dict[int, slice]:
    """For sorted identities: the slice of each persona-set code (their first byte sorts first)."""
    first = entries.view(np.uint8)[::16] if len(entries) else np.zeros(0, np.uint8)
    return {c: slice(int(np.searchsorted(first, c, "left")), int(np.searchsorted(first, c, "right"))) for c in codes}


def _missing(stored: np.ndarray, planned: np.ndarray, new: np.ndarray, chunk: int = 1 << 20) -> np.ndarray:
    """For each planned identity (sorted): planned once (`new`) and not among the sorted stored ones."""
    out = np.zeros(len(planned), bool)
    for start in range(0, len(planned), chunk):
        part = planned[start:start + chunk]
        if len(stored):
            at = np.minimum(np.searchsorted(stored, part), len(stored) - 1)
            out[start:start + chunk] = stored[at] != part
        else:
            out[start:start + chunk] = True
    return out & new


def _group_rows(model: str, dataset: str, files: dict[str, list[Path]], sizes: dict[str, int]) -> list[dict[str, Any]]:
    """The summary rows (one per persona set) of one model x dataset."""
    found, sets = _identities(files, sizes, model, dataset)
    stored, planned = found["parts"], found["plans"]
    stored.sort()
    planned.sort()
    stored_new, planned_new = _first_new(stored), _first_new(planned)
    missing = _missing(stored, planned, planned_new)
    at_stored, at_planned = _set_ranges(stored, sets.values()), _set_ranges(planned, sets.values())
    rows = []
    for name, code in sorted(sets.items()):
        kept, plan = at_stored[code], at_planned[code]
        rows.append({"model": model, "dataset": dataset, "persona_set": name,
                     "stored": int(stored_new[kept].sum()), "planned": int(planned_new[plan].sum()),
                     "missing": int(missing[plan].sum()),
                     "duplicates": int((kept.stop - kept.start) - stored_new[kept].sum())})
    return rows


_POOL_ROWS = 2_000_000
"""Stores with more entries than this are summarised by one process per CPU (at most 4), one
model x dataset each at a time: memory grows with the processes, the time falls with them."""


def summarize(store: Store, workers: int | None = None) -> dict[str, Any]:
    """Totals (`stored`, `planned`, `missing`, `duplicates`) and the per-group breakdown, one
    model x dataset at a time per process (memory: that of the largest, about 60 bytes per
    generation, per process; `workers` processes, default one per CPU up to 4 for a large store)."""
    parts = list(indexed_files(store, "parts"))
    plans = list(indexed_files(store, "plans"))
    where: dict[tuple[str, str], dict[str, list[Path]]] = defaultdict(lambda: {"parts": [], "plans": []})
    size: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {"parts": 0, "plans": 0})
    for kind, files in (("parts", parts), ("plans", plans)):
        for path, groups in files:
            for model, dataset, _set, n in groups:
                if path not in where[(model, dataset)][kind]:
                    where[(model, dataset)][kind].append(path)
                size[(model, dataset)][kind] += n
    jobs = [(model, dataset, where[(model, dataset)], size[(model, dataset)]) for model, dataset in sorted(where)]
    if workers is None:
        total = sum(s["parts"] + s["plans"] for s in size.values())
        workers = min(4, os.cpu_count() or 1, len(jobs)) if total > _POOL_ROWS else 1
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = list(pool.map(_group_rows, *zip(*jobs)))
    else:
        results = [_group_rows(*job) for job in jobs]
    groups = [row for rows in results for row in rows]
    totals = {key: sum(row[key] for row in groups) for key in ("stored", "planned", "missing", "duplicates")}
    return {
        "store": str(store.path),
        "format": store.format(),
        "parts_without_hash": len(store.unverifiable()),
        **totals,
        "parts": len(parts),
        "corrupt_set_aside": [vars(c) for c in store.set_aside],
        "corrupt_dir": sorted(p.name for p in store.corrupt_dir.glob("*")) if store.corrupt_dir.is_dir() else [],
        "runs": [_run(m) for m in store.manifests()],
        "groups": sorted(groups, key=lambda g: (g["model"], g["dataset"], g["persona_set"])),
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
