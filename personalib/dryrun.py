"""What `generate --dry-run` reports, from counts: the plan is never materialised.

A model's plan for one dataset is every persona x every item (METHODS 1-3). What is already stored
is read from the store's parts of that model and dataset (`personalib.store.index`), as a
personas x items matrix of booleans (193 x 58,492 for BBQ: 11 MB): an entry counts as stored when
a generation of that persona set, persona and item with the run's settings fingerprint is stored
(rows written before store format 2 have no fingerprint and count too, with a note). API cost:
the input tokens of the missing entries, summed from each persona statement's and each prompt's
count, with the conversation overhead (`personalib.tokens`); output tokens at most max_new_tokens.

Not counted here: a request stored under another label (the same prompt for two identical items,
or one persona in two persona sets) is reused, not sent, by the real run; the dry run counts it as
to send. With `--shard` the dry run needs each entry's key (`personalib.runplan.plan_entries`) and
counts as the real run does (`personalib.dispatch.pending`), reuse included. The API estimate is
`personalib.plan.Plan.estimate` of the entries to send; `--max-cost` checks the same figure
(`api_costs`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq

from personalib.dispatch import Counts, pending
from personalib.personas import Persona
from personalib.plan import Estimate, Plan, PlannedModel
from personalib.prompts import resolve_placement
from personalib.runplan import RequestMaker, plan_entries
from personalib.store import Store
from personalib.store.index import indexed_files

__all__ = ["DryDataset", "StoredGrid", "api_costs", "bytes_per_generation", "dry_dataset", "human_size",
           "stored_grid"]

DEFAULT_BYTES_PER_GENERATION = 120
"""Disk per stored generation when the store has none yet to measure (key, labels and a short
answer in a zstd Parquet part, plus its outcome row); the scale benchmark measures it."""


@dataclass
class StoredGrid:
    """Which entries of a personas x items plan are stored, and how many rows had no fingerprint."""

    stored: np.ndarray  # bool, personas x items
    unknown_settings: int = 0

    @property
    def n_stored(self) -> int:
        return int(self.stored.sum())


def stored_grid(store: Store, model: str, dataset: str, personas: Sequence[Persona], items: pd.DataFrame,
                settings: str) -> StoredGrid:
    """The stored entries of the plan `personas` x `items` of `model` on `dataset` (module doc)."""
    grid = StoredGrid(np.zeros((len(personas), len(items)), bool))
    if not store.exists() or not len(personas) or not len(items):
        return grid
    who = pd.Index([f"{p.set_name}\x1f{p.stem}" for p in personas])
    what = pd.Index(items["item_id"].astype(str))
    for path, groups in indexed_files(store, remember=False):
        if not any(g[0] == model and g[1] == dataset for g in groups):
            continue
        names = pq.read_schema(path).names
        columns = ["model", "dataset", "persona_set", "persona", "item_id"] + (["settings"] if "settings" in names else [])
        table = pq.read_table(path, columns=columns, page_checksum_verification=True)
        table = table.filter(pc.and_(pc.equal(table["model"], model), pc.equal(table["dataset"], dataset)))
        if "settings" in table.column_names:
            unknown = pc.is_null(table["settings"])
            grid.unknown_settings += int(pc.sum(unknown).as_py() or 0)
            table = table.filter(pc.or_(unknown, pc.equal(table["settings"], settings)))
        else:
            grid.unknown_settings += table.num_rows
        if not table.num_rows:
            continue
        label = pc.dictionary_encode(pc.binary_join_element_wise(table["persona_set"], table["persona"], "\x1f")
                                     .combine_chunks())
        item = pc.dictionary_encode(table["item_id"].combine_chunks())
        p = who.get_indexer(pd.Index(label.dictionary.to_pylist()))[label.indices.to_numpy(zero_copy_only=False)]
        i = what.get_indexer(pd.Index(item.dictionary.to_pylist()))[item.indices.to_numpy(zero_copy_only=False)]
        keep = (p >= 0) & (i >= 0)
        grid.stored[p[keep], i[keep]] = True
    return grid


def bytes_per_generation(store: Store) -> tuple[float, str]:
    """Disk per stored generation: measured from the store's parts when it holds at least 10,000
    generations, else `DEFAULT_BYTES_PER_GENERATION`; with where the figure comes from."""
    size = rows = 0
    for path, groups in indexed_files(store, remember=False) if store.exists() else ():
        size += path.stat().st_size
        rows += sum(g[3] for g in groups)
    if rows >= 10_000:
        return size / rows, f"measured on this store's {rows:,} generations"
    return float(DEFAULT_BYTES_PER_GENERATION), "assumed (the store has too few generations to measure)"


def human_size(n_bytes: float) -> str:
    """A byte count in words (KB, MB, GB, TB: powers of 1000)."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:,.1f} {unit}"
    return f"{n_bytes:,.0f} bytes"


@dataclass
class DryDataset:
    """What a run of one model x dataset would do: its counts, the API estimate of what it would
    send (API models only) and a note for the summary."""

    counts: Counts
    cost: dict | None = None
    note: str | None = None


def dry_dataset(store: Store, plan: Plan, model: PlannedModel, dataset: str, maker: RequestMaker,
                shard: tuple[int, int] | None) -> DryDataset:
    """Counts and API estimate of one model x dataset of `plan` (module doc): from the stored grid
    (no keys), or with `shard` from the keyed entries of that shard."""
    personas, items = plan.personas, plan.items(model, dataset)
    counts, note = Counts(), None
    if shard is None:
        grid = stored_grid(store, model.params.name, dataset, personas, items, maker.settings)
        counts.planned, counts.skipped = grid.stored.size, grid.n_stored
        if grid.unknown_settings:
            note = (f"{model.params.name}/{dataset}: {grid.unknown_settings:,} stored generation(s) carry no "
                    "settings fingerprint (store format 1) and count as made with the current settings; "
                    "`python -m personalib upgrade` records theirs")
        missing = ~grid.stored
        per_persona, per_item = missing.sum(axis=1), missing.sum(axis=0)
    else:
        entries = plan_entries(maker, dataset, items, personas, shard)
        todo, reusable = pending(store, entries, model.params.name, dataset)
        to_send = todo[~todo["key"].isin(reusable["key"])] if not reusable.empty else todo
        counts.planned, counts.skipped = len(entries), len(entries) - len(todo)
        counts.reused = len(todo) - len(to_send)
        sent = to_send.drop_duplicates("key")
        per_persona = np.bincount(sent["p_index"].to_numpy(int), minlength=len(personas))
        per_item = np.bincount(sent["i_index"].to_numpy(int), minlength=len(items))
    if not model.params.is_api:
        return DryDataset(counts, None, note)
    estimate = plan.estimate(model, dataset, maker.placement, per_persona, per_item)
    return DryDataset(counts, cost_row(model, dataset, estimate), note)


def cost_row(model: PlannedModel, dataset: str, estimate: Estimate) -> dict:
    """A run summary's API estimate of one model x dataset (tokens rounded)."""
    return {"model": model.params.name, "dataset": dataset, "requests": estimate.requests,
            "input_tokens": round(estimate.input_tokens or 0), "output_tokens": round(estimate.output_tokens),
            "usd": estimate.usd, "method": estimate.method}


def api_costs(store: Store, plan: Plan, shard: tuple[int, int] | None) -> list[dict]:
    """The API estimate (`cost_row`) of every API model x dataset of `plan` for what is not stored:
    the figures a dry run prints, computed without any backend (API keys are messages, no tokenizer)."""
    costs = []
    for model in plan.models.values():
        if not model.params.is_api:
            continue
        maker = RequestMaker(model.params, model.decoding, resolve_placement(model.params, None))
        for dataset in model.specs:
            costs.append(dry_dataset(store, plan, model, dataset, maker, shard).cost)
    return costs
