"""Result type and input helpers shared by the statistics modules (METHODS 6).

Every statistic in `personalib.stats` answers degenerate data (one persona, identical answers, one
model, a constant control group) with NaN and a plain-language `reason` instead of raising or
printing library warnings; malformed input (missing columns, duplicated cells, non-binary values)
raises `PersonalibError` naming the column or value and what to do.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields

import numpy as np
import pandas as pd

from personalib.errors import PersonalibError
from personalib.tables import require_columns

NAN = float("nan")


@dataclass(frozen=True)
class StatResult:
    """One omnibus test (Cochran's Q, Friedman) over a blocks x groups matrix.

    `n` counts the blocks used (items, statements, tweets), `k` the groups compared (personas).
    `reason` says in plain words why `statistic` is NaN (None when it was computed); `note` says
    what was left out of a computed statistic (e.g. incomplete blocks dropped). `effect_size` is
    statistic / (n (k - 1)), in [0, 1]: Kendall's W for Friedman, eta-squared Q for Cochran's Q
    (Serlin, Carr & Marascuilo 1982; docs/statistics.md).
    """

    test: str
    statistic: float = NAN
    dof: float = NAN
    p_value: float = NAN
    n: int = 0
    k: int = 0
    reason: str | None = None
    note: str | None = None
    effect_size: float = NAN

    @property
    def ok(self) -> bool:
        """True when the statistic was computed."""
        return self.reason is None

    def as_dict(self) -> dict[str, object]:
        """The fields as a plain dict (one row of a tidy results table)."""
        return asdict(self)


RESULT_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(StatResult))


@contextmanager
def quiet() -> Iterator[None]:
    """Silence numeric RuntimeWarnings (0/0, constant input) from numpy, scipy and pingouin.

    The callers check the degenerate cases themselves and report them through `reason`.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy's DegenerateDataWarning included
        with np.errstate(all="ignore"):
            yield


def _sorted_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Codes of `values` into their distinct values sorted as strings (as `pivot` orders them);
    -1 where missing."""
    codes, uniques = pd.factorize(values, sort=False)
    uniques = pd.Index(uniques)
    order = np.argsort(np.asarray(uniques.astype(str)), kind="stable")
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    return np.where(codes >= 0, rank[codes], -1), uniques[order]


def to_matrix(
    data: pd.DataFrame, *, row: str, column: str, value: str, what: str = "this statistic"
) -> pd.DataFrame:
    """Long table (row, column, value) -> wide matrix (rows x columns), NaN where a cell is absent.

    A (row, column) pair that occurs twice is an error: each persona answers each item once.
    Built from integer codes (categorical columns stay codes), so a full-size model's 11 M
    BBQ answers become a 58,492 x 193 matrix in about a second.
    """
    require_columns(data, [row, column, value], what)
    r, rows = _sorted_codes(data[row])
    c, cols = _sorted_codes(data[column])
    keep = (r >= 0) & (c >= 0)
    cell = r[keep] * max(len(cols), 1) + c[keep]
    counts = np.bincount(cell, minlength=len(rows) * len(cols)) if len(cell) else np.zeros(0, np.int64)
    if len(counts) and counts.max() > 1:
        first = int(np.argmax(counts > 1))
        pair = (rows[first // len(cols)], cols[first % len(cols)])
        raise PersonalibError(
            f"{what}: ({row}, {column}) = {pair} occurs {int(counts[first])} times in the table; keep one "
            f"'{value}' per {row} and {column} (filter the table, or group it by the columns that "
            "tell the copies apart, such as model, dataset or metric)."
        )
    values = _numeric(data[value], value, what).to_numpy(float)[keep]
    wide = np.full((len(rows), len(cols)), np.nan)
    wide[r[keep], c[keep]] = values
    present = np.zeros(len(rows), bool)
    present[r[keep]] = True
    out = pd.DataFrame(wide, index=pd.Index(rows, name=row), columns=pd.Index(cols, name=column))
    return out[present] if not present.all() else out


def as_matrix(
    data: pd.DataFrame | np.ndarray, *, row: str, column: str, value: str, what: str
) -> pd.DataFrame:
    """Accept a long table (has the `row`, `column` and `value` columns), a wide matrix
    (rows = blocks, columns = groups) or a 2-D array; return the wide float matrix."""
    if isinstance(data, np.ndarray):
        if data.ndim != 2:
            raise PersonalibError(f"{what} needs a 2-D matrix; got an array of shape {data.shape}")
        data = pd.DataFrame(data)
    if not isinstance(data, pd.DataFrame):
        raise PersonalibError(f"{what} needs a DataFrame or 2-D array; got {type(data).__name__}")
    if {row, column, value} <= set(data.columns):
        return to_matrix(data, row=row, column=column, value=value, what=what)
    hint = (f"{what} (wide matrix: rows = {row}, columns = {column}; or a long table with columns "
            f"'{row}', '{column}', '{value}')")
    return data.apply(lambda s: _numeric(s, str(s.name), hint)).astype(float)


def _numeric(series: pd.Series, name: str, what: str) -> pd.Series:
    """Series as float (bool -> 0/1); non-numeric values raise PersonalibError naming them."""
    if pd.api.types.is_bool_dtype(series):
        return series.astype(float)
    converted = pd.to_numeric(series, errors="coerce")
    bad = series[converted.isna() & series.notna()]
    if len(bad):
        raise PersonalibError(
            f"{what}: column '{name}' must be numeric; found {bad.unique()[:3].tolist()}"
        )
    return converted.astype(float)


def complete_blocks(matrix: pd.DataFrame, block_word: str) -> tuple[pd.DataFrame, str | None]:
    """Keep the rows (blocks) with a value for every group; the note says how many were dropped."""
    keep = matrix.notna().all(axis=1)
    dropped = int((~keep).sum())
    note = None
    if dropped:
        note = f"dropped {dropped} of {len(matrix)} {block_word} without a value for every persona"
    return matrix.loc[keep], note


def check_by(data: pd.DataFrame, by: Sequence[str], what: str) -> list[str]:
    """The grouping columns as a list, after checking that they exist."""
    by = [by] if isinstance(by, str) else list(by)
    require_columns(data, by, what)
    return by


def groups(data: pd.DataFrame, by: list[str]) -> Iterator[tuple[dict[str, object], pd.DataFrame]]:
    """(key dict, sub-table) for each group of `by` in order of appearance; one group if `by` is empty."""
    if not by:
        yield {}, data
        return
    for key, sub in data.groupby(by, sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        yield dict(zip(by, key, strict=True)), sub


def results_table(rows: list[dict[str, object]], key_columns: Sequence[str]) -> pd.DataFrame:
    """Tidy table: the key columns, then the StatResult fields, one row per test."""
    columns = [*key_columns, *RESULT_COLUMNS]
    table = pd.DataFrame(rows, columns=columns)
    for col in ("statistic", "dof", "p_value", "effect_size"):
        table[col] = table[col].astype(float)
    for col in ("n", "k"):
        table[col] = table[col].astype(int)
    return text_columns(table, ("reason", "note"))


def text_columns(table: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Make optional text columns object dtype holding None (not NaN) where there is no text, so
    that `reason is None` reads the same in tables as in the result objects."""
    for col in columns:
        values = table[col].astype(object)
        table[col] = values.where(values.notna(), None)
    return table
