"""Outcome tables: every stored generation parsed once, kept beside the store, read by the analysis.

    from personalib.outcomes import prepare
    ready = prepare(store, {"zephyr": {"bbq": bbq_items}}, {"zephyr": settings}, ["regular", "empty"])
    ready[("zephyr", "bbq")].path        # the selected outcomes of zephyr on BBQ (Parquet)

`prepare` scores the store parts that have no outcomes yet (personalib.outcomes.score), then
selects and deduplicates each model x dataset (personalib.outcomes.assemble); `scored_frame` turns
one of those into the table the metrics take (personalib.outcomes.frame). The analysis never reads
a text again, and memory is bounded by one model x dataset at a time. Cache layout and
invalidation: personalib.outcomes.cache.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from personalib.outcomes.assemble import Assembled, assemble
from personalib.outcomes.cache import cache_root, items_fingerprint
from personalib.outcomes.frame import scored_frame
from personalib.outcomes.score import part_outcome_path, score_part
from personalib.store import Store
from personalib.store.index import indexed_files

__all__ = ["Assembled", "Prepared", "prepare", "present_datasets", "scored_frame", "cache_root"]


@dataclass
class Prepared:
    """What `prepare` found: the assembled outcomes per (model, dataset), the datasets each model
    has in the store (any persona set), and the parts set aside as corrupt on the way."""

    assembled: dict[tuple[str, str], Assembled] = field(default_factory=dict)
    present: dict[str, set[str]] = field(default_factory=dict)
    set_aside: list = field(default_factory=list)


def _indexed_parts(store: Store) -> list[tuple[Path, list[tuple[str, str, int]]]]:
    """Every readable part with its (model, dataset, rows) groups (personalib.store.index)."""
    out = []
    for path, groups in indexed_files(store):
        rows: dict[tuple[str, str], int] = {}
        for model, dataset, _set, n in groups:
            rows[(model, dataset)] = rows.get((model, dataset), 0) + n
        out.append((path, [(m, d, n) for (m, d), n in rows.items()]))
    return out


def present_datasets(store: Store) -> dict[str, set[str]]:
    """Model -> the datasets it has generations of in the store (any persona set, any settings)."""
    present: dict[str, set[str]] = {}
    for _, groups in _indexed_parts(store):
        for model, dataset, _n in groups:
            present.setdefault(model, set()).add(dataset)
    return present


def prepare(store: Store, items: Mapping[str, Mapping[str, pd.DataFrame]], settings: Mapping[str, str],
            persona_sets: Sequence[str], *, progress: bool = False) -> Prepared:
    """Score what is not scored yet and assemble each model x dataset of `items` (model ->
    dataset -> items table) under the model's `settings` fingerprint, for `persona_sets`."""
    root = cache_root(store)
    before = len(store.set_aside)
    fingerprints = {(m, d): items_fingerprint(t) for m, by in items.items() for d, t in by.items()}
    parts = _indexed_parts(store)
    result = Prepared()
    for _, groups in parts:
        for model, dataset, _n in groups:
            result.present.setdefault(model, set()).add(dataset)
    todo = []
    for path, groups in parts:
        wanted = {(m, d): (items[m][d], fingerprints[(m, d)]) for m, d, _ in groups if (m, d) in fingerprints}
        if any(not part_outcome_path(root, path, m, d, fp).exists() for (m, d), (_, fp) in wanted.items()):
            todo.append((path, wanted, sum(n for m, d, n in groups if (m, d) in wanted)))
    with tqdm(total=sum(n for *_, n in todo), desc="scoring", unit="gen", file=sys.stderr,
              disable=not progress) as bar:
        for path, wanted, n in todo:
            score_part(store, root, path, wanted)
            bar.update(n)
    gone = {Path(c.name).name for c in store.set_aside[before:]}
    for (model, dataset), fp in fingerprints.items():
        files = [part_outcome_path(root, p, model, dataset, fp) for p, groups in parts
                 if p.name not in gone and any((m, d) == (model, dataset) for m, d, _ in groups)]
        result.assembled[(model, dataset)] = assemble(
            root, model, dataset, files, items_fp=fp, settings=settings[model], persona_sets=persona_sets)
    result.set_aside = store.set_aside[before:]
    return result
