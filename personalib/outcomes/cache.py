"""Where the outcome cache lives and how its files are named and written.

The cache sits beside the store (`<store>/outcomes/`), or in the user cache
(`<PERSONALIB_CACHE>/stores/<store digest>/outcomes/`) when the store folder is read-only. Under a folder
named for the outcome format and parser version (`v<OUTCOMES_VERSION>`) it holds:

    parts/<model>/<dataset>/<items>/<part>.parquet   the part's parsed answers for those items
    assembled/<model>/<dataset>/<digest>.parquet     one model x dataset, selected and deduplicated
    assembled/<model>/<dataset>/<digest>.json        its counts (written last: its presence = done)

`<part>` is the part's file token (`personalib.store.index.file_token`: its stem, which carries
the hash of its bytes in store format 2), so a part
outcome can never be stale; `<items>` is the fingerprint of the items' ids and option counts;
`<digest>` hashes everything an assembled table depends on. Every file is written atomically (temp
file + rename), so a crash while scoring leaves only complete files and the next run completes the
cache. Nothing else invalidates it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd
import pyarrow as pa

from personalib.parsing import PARSER_VERSION
from personalib.store import Store
from personalib.store.index import sidecar
from personalib.store.parts import write_atomic, write_json_atomic

__all__ = [
    "OUTCOMES_VERSION", "cache_root", "items_fingerprint", "group_dir",
    "write_table", "write_json", "read_json", "digest",
]  # fmt: skip

OUTCOMES_VERSION = f"{PARSER_VERSION}.1"
"""Parser version . outcome-table layout version (module doc)."""


def cache_root(store: Store) -> Path:
    """The outcome cache of `store` for this outcome version (module doc)."""
    return sidecar(store, "outcomes", f"v{OUTCOMES_VERSION}")


def items_fingerprint(items: pd.DataFrame) -> str:
    """What parsing depends on in an items table: the item ids in order and their option counts."""
    ids = "\x1f".join(items["item_id"].astype(str))
    n = pd.array(items["n_options"], dtype="Int64").fillna(0).to_numpy(np.int64)
    return hashlib.sha256(ids.encode("utf-8") + n.tobytes()).hexdigest()[:16]


def group_dir(root: Path, kind: str, model: str, dataset: str) -> Path:
    """`<root>/<kind>/<model>/<dataset>` (the model name quoted to be a safe folder name)."""
    return root / kind / quote(model, safe="") / dataset


def digest(*parts: Any) -> str:
    """A short digest of JSON-able values."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def write_table(table: pa.Table, path: Path) -> Path:
    """Write a Parquet file atomically."""
    return write_atomic(table, path)


def write_json(data: dict[str, Any], path: Path) -> Path:
    """Write a JSON file atomically."""
    return write_json_atomic(json.dumps(data, sort_keys=True) + "\n", path)


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON file of the cache, or None when it is missing or unreadable (then it is rebuilt)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def prune(folder: Path, keep: set[str], older_than_s: float = 3600.0) -> None:
    """Delete files in `folder` not named in `keep` and older than `older_than_s` (stale variants)."""
    import time

    if not folder.is_dir():
        return
    cutoff = time.time() - older_than_s
    for path in folder.iterdir():
        try:
            if path.name not in keep and path.stat().st_mtime < cutoff:
                os.unlink(path)
        except OSError:
            continue
