"""The scored table of one model and dataset, from its assembled outcomes and its items.

The result has the columns of `personalib.metrics.score` (METHODS 4-5) except the texts: labels
(`model`, `persona_set`, `persona`, `dataset`, `item_id`, all categorical), the parse (`answer`,
`rating`, `extracted`, `hedge`, `refusal`), the scores (`hit`, `biased`, `unknown`, `value`) under
the parsing mode asked for, and the item columns the metrics need, so every metric works on it as
on `score()`'s output. Memory: about 60 bytes per generation (11.3 M BBQ answers of one model:
about 0.7 GB).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from personalib.metrics.scoring import item_arrays, item_columns, scored_columns, valued
from personalib.parsing import Mode

__all__ = ["scored_frame"]


def _categorical(column) -> pd.Series:
    """A label column as a categorical whose categories are sorted (so grouping orders rows as
    it would order the strings)."""
    values = column.to_pandas()
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.reorder_categories(sorted(values.cat.categories)).cat.remove_unused_categories()
    return values.astype(pd.CategoricalDtype(sorted(values.dropna().unique())))


def scored_frame(path: Path, model: str, dataset: str, items: pd.DataFrame, mode: Mode) -> pd.DataFrame:
    """The scored rows of one assembled outcome file (module doc)."""
    table = pq.read_table(path)
    n = table.num_rows
    items = items.reset_index(drop=True)
    pos = table["item"].to_numpy().astype(np.int64)
    out = pd.DataFrame({
        "model": pd.Categorical.from_codes(np.zeros(n, np.int8), categories=[model]),
        "persona_set": _categorical(table["persona_set"]),
        "persona": _categorical(table["persona"]),
        "dataset": pd.Categorical.from_codes(np.zeros(n, np.int8), categories=[dataset]),
        "item_id": pd.Categorical.from_codes(pos, categories=pd.Index(items["item_id"].astype(str))),
    })  # fmt: skip
    raw = {name: table[name].to_numpy() for name in ("choice", "rating", "extracted", "hedge", "refusal")}
    rows = np.arange(n)
    parts = {col: [(rows, pos, items[col])] for col in item_columns(dataset)}
    attitude_rows = np.full(n, valued(dataset))
    return scored_columns(out, raw, item_arrays(dataset, items, pos), parts, attitude_rows, [dataset], mode)
