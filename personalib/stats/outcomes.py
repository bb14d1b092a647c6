"""Per-item outcomes of one model on one dataset as a compact items x personas matrix.

The uncertainty statistics (`intervals`, `permutation`) work on what each persona answered on each
item: one or more per-item outcomes (hit, biased, unknown, refused, a rating), NaN where a persona
has no value (strict parsing, an item it was not asked, or an item outside an outcome's rows such
as BBQ items without a bias target). Every cell's tuple of outcome values is stored as one small
integer *class* (`codes`, uint8, items x personas) with a table of the values each class stands
for (`class_values`, classes x outcomes). A full-size BBQ model (58,492 items x 193 personas) is
11 MB this way, and both the bootstrap and the permutation null only ever need the number of
cells of each class per stratum and persona.

Items are grouped in strata (MMLU subjects; BBQ category x context condition; one stratum when
none is given): the bootstrap resamples items within strata and the composite scores average
per-stratum rates (METHODS 5).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from personalib.errors import PersonalibError
from personalib.stats.result import require_columns

MAX_CLASSES = 255
"""Distinct outcome tuples a matrix may hold (codes are uint8)."""


@dataclass(frozen=True)
class Outcomes:
    """Items x personas outcome classes of one model on one dataset.

    `codes[i, j]` is the class of persona j's answer on item i; `class_values[c, k]` is the value
    of outcome `names[k]` in class c (NaN = no value). `strata[i]` indexes `stratum_labels`.
    """

    codes: np.ndarray
    class_values: np.ndarray
    names: tuple[str, ...]
    strata: np.ndarray
    stratum_labels: tuple[Hashable, ...]
    personas: tuple[str, ...]
    items: tuple[str, ...] | None = None

    @property
    def n_items(self) -> int:
        return int(self.codes.shape[0])

    @property
    def n_personas(self) -> int:
        return int(self.codes.shape[1])

    @property
    def n_classes(self) -> int:
        return int(self.class_values.shape[0])

    def matrix(self, name: str) -> np.ndarray:
        """The items x personas float matrix of one outcome (NaN = no value)."""
        return self.class_values[:, self._index(name)][self.codes]

    def counts(self) -> np.ndarray:
        """Cells per stratum, class and persona: int64 array (strata, classes, personas)."""
        s, c, p = len(self.stratum_labels), self.n_classes, self.n_personas
        flat = (self.strata[:, None].astype(np.int64) * c + self.codes) * p + np.arange(p)
        return np.bincount(flat.ravel(), minlength=s * c * p).reshape(s, c, p)

    def select(self, names: Sequence[str]) -> Outcomes:
        """The same items and personas with only the named outcomes (fewer, merged classes)."""
        idx = [self._index(n) for n in dict.fromkeys(names)]
        sub = self.class_values[:, idx]
        key = np.where(np.isnan(sub), np.inf, sub)  # NaN compares equal to itself as inf
        _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
        lookup = inverse.reshape(-1).astype(np.uint8)
        return Outcomes(lookup[self.codes], sub[first], tuple(self.names[i] for i in idx),
                        self.strata, self.stratum_labels, self.personas, self.items)

    def _index(self, name: str) -> int:
        if name not in self.names:
            raise PersonalibError(f"outcome {name!r} is not in this matrix; it has {list(self.names)}")
        return self.names.index(name)


def _value_codes(values: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Small integer code per cell and the distinct values (NaN last) of one outcome."""
    missing = np.isnan(values)
    if ((values == 0) | (values == 1) | missing).all():  # the common case: a 0/1 outcome
        with np.errstate(invalid="ignore"):  # NaN cells are overwritten next
            codes = values.astype(np.int8)
        codes[missing] = 2
        return codes, np.array([0.0, 1.0, np.nan])
    distinct = np.unique(values[~missing]).astype(np.float64)
    if distinct.size > MAX_CLASSES:
        raise PersonalibError(
            f"outcome {name!r} has {distinct.size} distinct values; the uncertainty statistics take "
            f"per-item outcomes with at most {MAX_CLASSES} (hits, flags, 1-5 ratings). Aggregate or "
            "round the values first.")
    codes = np.searchsorted(distinct, np.where(missing, distinct[0] if distinct.size else 0, values))
    return np.where(missing, distinct.size, codes).astype(np.int16), np.append(distinct, np.nan)


def _classes(combined: np.ndarray, radix: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct combined codes (ascending) and each cell's index among them."""
    if radix <= 1 << 22:
        used = np.flatnonzero(np.bincount(combined.ravel(), minlength=radix))
        lookup = np.zeros(radix, np.uint8 if used.size <= MAX_CLASSES else np.int64)
        lookup[used] = np.arange(used.size)
        return used, lookup[combined]
    used, inverse = np.unique(combined, return_inverse=True)
    return used, inverse.reshape(combined.shape)


def encode(values: Mapping[str, np.ndarray], strata: Sequence[Hashable] | np.ndarray | None = None,
           personas: Sequence[str] | None = None, items: Sequence[str] | None = None) -> Outcomes:
    """Outcomes from named items x personas matrices of equal shape (NaN = no value) and the
    stratum label of each item (None: one stratum)."""
    if not values:
        raise PersonalibError("encode needs at least one outcome matrix")
    names = tuple(values)
    mats = [np.asarray(values[n]) for n in names]
    mats = [m if np.issubdtype(m.dtype, np.floating) else m.astype(np.float32) for m in mats]
    shape = mats[0].shape
    for name, mat in zip(names, mats, strict=True):
        if mat.ndim != 2 or mat.shape != shape:
            raise PersonalibError(f"outcome {name!r} has shape {mat.shape}; every outcome must be an "
                                  f"items x personas matrix of shape {shape}")
    n, p = shape
    coded = [_value_codes(mat, name) for name, mat in zip(names, mats, strict=True)]
    radix = int(np.prod([len(distinct) for _, distinct in coded]))
    combined = np.zeros(shape, np.int16 if radix < 2**15 else np.int64)
    for codes, distinct in coded:
        combined *= len(distinct)
        combined += codes
    per_value = [distinct for _, distinct in coded]
    used, inverse = _classes(combined, radix)
    if used.size > MAX_CLASSES:
        raise PersonalibError(f"{used.size} distinct combinations of {list(names)}: at most "
                              f"{MAX_CLASSES} are supported; pass fewer outcomes at a time")
    class_values = np.empty((used.size, len(names)))
    rest = used.copy()
    for k in range(len(names) - 1, -1, -1):
        distinct = per_value[k]
        class_values[:, k] = distinct[rest % len(distinct)]
        rest //= len(distinct)
    labels_in = pd.Series(np.zeros(n, np.int64) if strata is None else list(strata), dtype=object)
    if len(labels_in) != n:
        raise PersonalibError(f"{len(labels_in)} stratum labels for {n} items")
    codes_s, uniques = pd.factorize(labels_in, sort=True)
    if (codes_s < 0).any():
        raise PersonalibError("a stratum label is missing (NaN/None); give every item a stratum")
    return Outcomes(
        codes=inverse.astype(np.uint8),
        class_values=class_values,
        names=names,
        strata=codes_s.astype(np.int64),
        stratum_labels=tuple(uniques),
        personas=tuple(personas) if personas is not None else tuple(str(j) for j in range(p)),
        items=tuple(items) if items is not None else None,
    )


def from_long(table: pd.DataFrame, values: Sequence[str], *, item: str = "item_id",
              persona: str = "persona", stratum: Sequence[str] = (),
              personas: Sequence[str] | None = None) -> Outcomes:
    """Outcomes from a long per-item table (one row per item x persona) with outcome columns
    `values` (bool/0-1/numbers; NA = no value) and optional stratum columns (one label per item).

    `personas` fixes the column order (default: order of appearance); an (item, persona) pair that
    occurs twice is an error naming it.
    """
    stratum = [stratum] if isinstance(stratum, str) else list(stratum)
    require_columns(table, [item, persona, *values, *stratum], "per-item outcome table")
    item_codes, item_ids = _factorize(table[item])
    if personas is None:
        persona_codes, persona_ids = _factorize(table[persona])
    else:
        persona_ids = pd.Index([str(p) for p in personas])
        codes, names = _factorize(table[persona])
        persona_codes = persona_ids.get_indexer(names)[codes]
        if (persona_codes < 0).any():
            bad = names[codes[persona_codes < 0][0]]
            raise PersonalibError(f"persona {bad!r} of the outcome table is not in the given personas")
    n, p = len(item_ids), len(persona_ids)
    flat = item_codes.astype(np.int64) * p + persona_codes
    seen = np.bincount(flat, minlength=n * p)
    if (seen > 1).any():
        cell = int(np.flatnonzero(seen > 1)[0])
        raise PersonalibError(
            f"per-item outcome table: ({item}, {persona}) = ({item_ids[cell // p]!r}, "
            f"{persona_ids[cell % p]!r}) occurs {int(seen[cell])} times; keep one row per item and "
            "persona (one model and dataset at a time)")
    mats = {}
    for name in values:
        mat = np.full(n * p, np.nan, np.float32)  # float32: a full-size BBQ outcome is 45 MB
        col = pd.to_numeric(table[name], errors="coerce").astype("Float64")
        mat[flat] = col.to_numpy(np.float64, na_value=np.nan)
        mats[name] = mat.reshape(n, p)
    labels = None
    if stratum:
        _, first = np.unique(item_codes, return_index=True)  # a row of each item, in code order
        cols = [table[c].iloc[first].astype(str).to_numpy() for c in stratum]
        labels = cols[0] if len(cols) == 1 else list(zip(*cols, strict=True))
    return encode(mats, labels, personas=list(persona_ids), items=list(item_ids))


def _factorize(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Codes (order of first appearance) and the distinct values as strings; a categorical
    column (the analysis' scored rows) is factorized through its codes, without a string per row."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes, used = pd.factorize(values.cat.codes.to_numpy())
        names = values.cat.categories.astype(str).to_numpy()
        return codes, pd.Index([names[c] if c >= 0 else "nan" for c in used])
    codes, uniques = pd.factorize(values.astype(str))
    return codes, pd.Index(uniques)


__all__ = ["MAX_CLASSES", "Outcomes", "encode", "from_long"]
