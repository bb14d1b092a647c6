"""Compact membership test for store keys (a rerun skips every stored key).

One model's full grid is 14.56 M keys (METHODS "Scale"); a Python set of hex strings would take
about 2 GB. `KeyIndex` keeps the 32-byte digests in one sorted NumPy array (466 MB for 14.56 M)
and answers membership with a binary search.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pyarrow as pa

__all__ = ["KeyIndex"]


def _digests(keys: Iterable[str] | pa.Array | pa.ChunkedArray) -> np.ndarray:
    if isinstance(keys, (pa.Array, pa.ChunkedArray)):
        keys = keys.to_pylist()
    return np.array([bytes.fromhex(k) for k in keys], dtype="S32")


class KeyIndex:
    """A sorted array of key digests; `in` and `contains` test membership."""

    def __init__(self, keys: Iterable[str] | pa.Array | pa.ChunkedArray = ()) -> None:
        self._sorted = np.unique(_digests(keys))

    def __len__(self) -> int:
        return int(self._sorted.size)

    def contains(self, keys: Sequence[str]) -> np.ndarray:
        """Boolean array: which of `keys` are in the index."""
        query = _digests(keys)
        if not self._sorted.size or not query.size:
            return np.zeros(query.size, dtype=bool)
        position = np.searchsorted(self._sorted, query)
        found = position < self._sorted.size
        found[found] = self._sorted[position[found]] == query[found]
        return found

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and bool(self.contains([key])[0])
