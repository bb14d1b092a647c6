"""Scoring store parts into outcomes: each generation's parsed answer, once per part (METHODS 4).

A part's generations of one model and dataset become one outcome file (personalib.outcomes.cache)
holding, per generation, its labels (persona set, persona, item position in the items table,
settings fingerprint, stored time) and the raw parse: `choice` (letter index, -1 = not extracted),
`rating` (1..5, 0 = not extracted), `extracted`, `hedge`, `refusal`. Texts are read here and never
again by the analysis. Scoring flags (hit, biased, unknown, value) and the faithful/strict rule are
applied when the outcomes are read (personalib.outcomes.frame), so changing the parsing mode or an
item's gold answer never re-parses a text; only the parser version, the items' ids and option counts
and the part's content do.

A part is read only after its content hash matched (store format 2); a part that fails is set aside
like any corrupt part and its generations are missing until regenerated.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from personalib.errors import PersonalibError
from personalib.outcomes.cache import group_dir, write_table
from personalib.store.index import file_token
from personalib.parsing import parse_arrays
from personalib.store import Store
from personalib.store.parts import verify_part

__all__ = ["PART_SCHEMA", "part_outcome_path", "score_part"]

PART_SCHEMA = pa.schema([
    ("persona_set", pa.string()), ("persona", pa.string()), ("settings", pa.string()),
    ("item", pa.int32()), ("created_at", pa.timestamp("us", tz="UTC")), ("choice", pa.int8()),
    ("rating", pa.int8()), ("extracted", pa.bool_()), ("hedge", pa.bool_()), ("refusal", pa.bool_()),
])  # fmt: skip
"""One scored generation of a part (module doc)."""

_READ = ["model", "dataset", "persona_set", "persona", "item_id", "created_at", "text"]


def part_outcome_path(root: Path, path: Path, model: str, dataset: str, items_fp: str) -> Path:
    """Where the outcomes of one part's (model, dataset) generations live for these items."""
    return group_dir(root, "parts", model, dataset) / items_fp / f"{file_token(path)}.parquet"


def _positions(ids: pa.ChunkedArray, items: pd.DataFrame, model: str, dataset: str, path: Path) -> np.ndarray:
    encoded = pc.dictionary_encode(ids.combine_chunks())
    known = pd.Index(items["item_id"].astype(str))
    lookup = known.get_indexer(pd.Index(encoded.dictionary.to_pylist()))
    pos = lookup[encoded.indices.to_numpy(zero_copy_only=False)]
    if (pos < 0).any():
        bad = encoded.dictionary[int(lookup.argmin())].as_py()
        raise PersonalibError(
            f"{int((pos < 0).sum())} {dataset} generation(s) of {model} in store part {path.name} refer to "
            f"items missing from the {dataset} items table (first: item_id {bad!r}); load the items from "
            "the same source and subsample the generations were made from")
    return pos.astype(np.int32)


def score_part(store: Store, root: Path, path: Path,
               wanted: Mapping[tuple[str, str], tuple[pd.DataFrame, str]]) -> bool:
    """Write the outcome file of every (model, dataset) group of `path` named in `wanted`
    ((model, dataset) -> (items, items fingerprint)) whose file is missing. Returns False when
    the part failed its content check and was set aside (nothing written)."""
    todo = {g: v for g, v in wanted.items() if not part_outcome_path(root, path, *g, v[1]).exists()}
    if not todo:
        return True
    reason = verify_part(path)
    try:
        table = None if reason else pq.read_table(
            path, columns=_READ + (["settings"] if "settings" in pq.read_schema(path).names else []),
            page_checksum_verification=True)
    except FileNotFoundError:
        return False  # set aside by another reader meanwhile
    except (pa.ArrowException, OSError) as exc:
        reason = f"unreadable data ({exc})"
    if reason:
        store.put_aside(path, reason)
        return False
    assert table is not None
    for (model, dataset), (items, items_fp) in todo.items():
        mask = pc.and_(pc.equal(table["model"], model), pc.equal(table["dataset"], dataset))
        sub = table.filter(mask)
        if sub.num_rows == 0:
            continue
        pos = _positions(sub["item_id"], items, model, dataset, path)
        n_options = pd.array(items["n_options"], dtype="Int64").fillna(0).to_numpy(np.int64)[pos]
        raw = parse_arrays(sub["text"].to_pandas(), pd.arrays.IntegerArray(n_options, n_options == 0))
        settings = sub["settings"] if "settings" in sub.column_names else pa.nulls(sub.num_rows, pa.string())
        out = pa.table({
            "persona_set": sub["persona_set"], "persona": sub["persona"], "settings": settings,
            "item": pa.array(pos, pa.int32()), "created_at": sub["created_at"],
            "choice": pa.array(raw["choice"], pa.int8()), "rating": pa.array(raw["rating"], pa.int8()),
            "extracted": pa.array(raw["extracted"]), "hedge": pa.array(raw["hedge"]),
            "refusal": pa.array(raw["refusal"]),
        }, schema=PART_SCHEMA)  # fmt: skip
        write_table(out, part_outcome_path(root, path, model, dataset, items_fp))
    return True
