"""Helpers shared by the metrics: grouped means over nullable columns and "why is this NaN" notes.

Degenerate data (one persona, a persona with no parsed answer, an empty category, a constant
rating column) gives NaN, never an obscure exception. The reason is kept with the result as a list
of plain sentences in `table.attrs["notes"]` (read it with `notes_of(table)`); reports print it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

NOTES = "notes"


def with_notes(table: pd.DataFrame | pd.Series, notes: Iterable[str]) -> pd.DataFrame | pd.Series:
    """Attach `notes` (kept once each, in order, after any the table already has) and return it."""
    table.attrs[NOTES] = list(dict.fromkeys([*table.attrs.get(NOTES, []), *notes]))
    return table


def notes_of(table: pd.DataFrame | pd.Series) -> list[str]:
    """The reasons attached to a metric table (empty list when every value is defined)."""
    return list(table.attrs.get(NOTES, []))


def as_float(values: pd.Series) -> np.ndarray:
    """A nullable boolean/integer column as float64 with NaN for NA."""
    return pd.to_numeric(values, errors="coerce").astype("Float64").to_numpy(np.float64, na_value=np.nan)


def group_mean(table: pd.DataFrame, by: Sequence[str], column: str) -> pd.Series:
    """Mean of `column` over the non-missing rows of each group (NaN for a group with none)."""
    frame = table[list(by)].copy()
    frame["_v"] = as_float(table[column])
    grouped = frame.groupby(list(by), observed=True, sort=True)["_v"]
    return grouped.mean()


def group_sum_count(table: pd.DataFrame, by: Sequence[str], column: str) -> pd.DataFrame:
    """Per group: `sum` and `count` of the non-missing values of `column`."""
    frame = table[list(by)].copy()
    frame["_v"] = as_float(table[column])
    return frame.groupby(list(by), observed=True, sort=True)["_v"].agg(["sum", "count"])


def label(key: object) -> str:
    """A readable name for a persona index key (model/persona_set/persona tuple)."""
    if isinstance(key, tuple):
        return "/".join(str(k) for k in key)
    return str(key)


def nan_notes(series: pd.Series, what: str, reason: str) -> list[str]:
    """One note per NaN entry of `series`: "<what> undefined for <key>: <reason>"."""
    return [f"{what} undefined for {label(k)}: {reason}" for k in series.index[series.isna()]]
