"""RQ3 attitude scores per persona (METHODS 5).

Per persona and attitude dimension: the mean over statements x instruction variants (27 x 31 in
the study) of the ratings, reverse-scored items counted as 6 - rating (the `value` column of
`score()`; reverse scoring happens once, there). Faithful mode counts an unparsed rating as 3
(3 stays 3 when reversed); strict mode leaves it out.
"""

from __future__ import annotations

import pandas as pd

from personalib.metrics.common import group_mean, nan_notes, with_notes
from personalib.metrics.scoring import KEYS, require_columns, rows_of

NO_RATING = "no parsed rating (strict mode leaves unparsed ratings out)"


def _attitude_rows(scored: pd.DataFrame) -> pd.DataFrame:
    part = rows_of(scored, "attitudes", "attitude scores")
    require_columns(part, ["attitude", "statement_index", "variant", "value"], "scored table")
    return part


def attitude_scores(scored: pd.DataFrame) -> pd.DataFrame:
    """Per persona (rows) and attitude dimension (columns, questionnaire order of appearance):
    the mean reverse-scored rating over statements x variants (METHODS 5)."""
    part = _attitude_rows(scored)
    order = list(pd.unique(part["attitude"].astype("str")))
    table = group_mean(part, [*KEYS, "attitude"], "value").unstack("attitude")
    table = table.reindex(columns=order)
    table.columns.name = None
    notes = []
    for dim in order:
        notes += nan_notes(table[dim], f"attitude score {dim}", NO_RATING)
    return with_notes(table, notes)


def statement_means(scored: pd.DataFrame) -> pd.DataFrame:
    """Long table (KEYS, `attitude`, `statement_index`, `value`): per persona and statement the
    mean reverse-scored rating over its instruction variants (the Friedman blocks, METHODS 6)."""
    part = _attitude_rows(scored)
    means = group_mean(part, [*KEYS, "attitude", "statement_index"], "value")
    return means.rename("value").reset_index()
