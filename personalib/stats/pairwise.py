"""Pairwise tests for persona pairs named in advance: McNemar with Holm's correction.

The top and bottom persona of a ranking are chosen after looking, so a test of their difference
is not valid; their gap is judged by the permutation null (`personalib.stats.permutation`). A
pair fixed before looking at the data, such as the study's near-synonymous personas
(METHODS 6: a black person / an african american person, a gay person / a homosexual person),
can be compared item by item: McNemar's test on the items both personas answered, from the
discordant items only (items only persona a got right, items only persona b got right).

- exact (default): the two-sided binomial test of the discordant counts (statsmodels
  `mcnemar(exact=True)`), valid for any count;
- `exact=False`: the chi-square statistic with continuity correction, (|b - c| - 1)^2 / (b + c).

The p-values of the pairs tested together are adjusted by Holm's step-down method (statsmodels
`multipletests(method="holm")`), which controls the family-wise error rate.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from personalib.errors import PersonalibError
from personalib.stats.disparity import SYNONYM_PAIRS
from personalib.stats.result import as_matrix, quiet, text_columns

COLUMNS = ["persona_a", "persona_b", "n_items", "rate_a", "rate_b", "diff", "only_a", "only_b",
           "statistic", "p_value", "p_holm", "reject", "reason"]


def mcnemar_pairs(
    data: pd.DataFrame | np.ndarray,
    pairs: Sequence[tuple[str, str]] = SYNONYM_PAIRS,
    *,
    value: str = "value",
    item: str = "item_id",
    persona: str = "persona",
    exact: bool = True,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """McNemar's test for each named pair of personas, Holm-adjusted over the pairs tested.

    `data`: a long table (`item`, `persona`, 0/1 `value`) or a wide items x personas 0/1 matrix
    (one model and dataset). Per pair: the items both answered (`n_items`), both personas' rates on
    them and their difference a - b, the discordant counts (`only_a`: a = 1, b = 0; `only_b`),
    the statistic (exact: min(only_a, only_b); else the corrected chi-square), `p_value`,
    `p_holm` and `reject` (p_holm < alpha). A pair with a persona absent from the data keeps its
    row with NaN and a reason and is not part of the Holm family.
    """
    matrix = as_matrix(data, row=item, column=persona, value=value, what="McNemar's test")
    matrix.columns = [str(c) for c in matrix.columns]
    x = matrix.to_numpy()
    bad = np.unique(x[~np.isnan(x) & (x != 0) & (x != 1)])
    if bad.size:
        raise PersonalibError(f"McNemar's test needs binary values (0/1 or True/False); found "
                              f"{bad[:3].tolist()}. Pass a per-item outcome such as hit or refused.")
    rows = []
    for a, b in pairs:
        row: dict[str, object] = {"persona_a": a, "persona_b": b, "n_items": 0, "reason": None}
        missing = [p for p in (a, b) if p not in matrix.columns]
        if missing:
            row["reason"] = f"persona {' and '.join(map(repr, missing))} not in the data"
            rows.append(row)
            continue
        both = matrix[[a, b]].dropna().to_numpy()
        only_a = int(((both[:, 0] == 1) & (both[:, 1] == 0)).sum())
        only_b = int(((both[:, 0] == 0) & (both[:, 1] == 1)).sum())
        row.update(n_items=len(both), only_a=only_a, only_b=only_b)
        if len(both) == 0:
            row["reason"] = "no item answered by both personas"
            rows.append(row)
            continue
        rate_a, rate_b = float(both[:, 0].mean()), float(both[:, 1].mean())
        row.update(rate_a=rate_a, rate_b=rate_b, diff=rate_a - rate_b)
        if only_a + only_b == 0:  # no item separates them: p = 1 (the chi-square is 0/0)
            row.update(statistic=0.0 if exact else np.nan, p_value=1.0)
        else:
            with quiet():
                res = mcnemar([[0, only_a], [only_b, 0]], exact=exact, correction=True)
            row.update(statistic=float(res.statistic), p_value=float(res.pvalue))
        rows.append(row)
    table = holm(pd.DataFrame(rows, columns=COLUMNS), alpha=alpha)
    for col in ("rate_a", "rate_b", "diff", "statistic", "p_value", "p_holm"):
        table[col] = table[col].astype(float)
    for col in ("only_a", "only_b"):
        table[col] = table[col].astype("Int64")
    return text_columns(table, ["reason"])


def holm(table: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """`table` with `p_holm` and `reject` (p_holm < alpha) computed by Holm's step-down method
    over every row with a `p_value` (the family: e.g. several tables of `mcnemar_pairs`
    concatenated, one per task, adjusted together); rows without a p-value get NaN and NA."""
    out = table.copy()
    tested = out["p_value"].notna().to_numpy()
    out["p_holm"] = np.nan
    out["reject"] = pd.array([pd.NA] * len(out), dtype="boolean")
    if tested.any():
        reject, adjusted, _, _ = multipletests(out.loc[tested, "p_value"].to_numpy(float),
                                               alpha=alpha, method="holm")
        out.loc[tested, "p_holm"] = adjusted
        out.loc[tested, "reject"] = reject
    return out


__all__ = ["holm", "mcnemar_pairs"]
