"""Omnibus tests across personas (METHODS 6): Cochran's Q and Friedman.

- Cochran's Q (statsmodels `cochrans_q`): per model and dataset, over the items x personas binary
  matrix of a per-item outcome (hit, biased, unknown, refusal). H0: every persona has the same
  success probability.
- Effect sizes (`effect_size` of the result): statistic / (n (k - 1)), Kendall's W for Friedman
  and eta-squared Q for Cochran's Q (Serlin, Carr & Marascuilo 1982).
- Friedman (pingouin `friedman`, chi-square form with the tie correction; the same statistic as
  scipy's `friedmanchisquare`, which needs three groups, while pingouin also takes two): groups =
  personas, blocks = attitude statements (value = the persona's mean over the 31 instruction
  variants of the statement) separately for the regular (162 + empty) and the control personas,
  per model and attitude; toxicity: blocks = the 626 tweets, all personas, per model and measure.

Blocks (items, statements, tweets) lacking a value for some persona are dropped (listwise), as
both tests need complete blocks; the result's `note` says how many.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pingouin as pg
from statsmodels.stats.contingency_tables import cochrans_q as _sm_cochrans_q

from personalib.errors import PersonalibError
from personalib.stats.result import (
    StatResult,
    as_matrix,
    check_by,
    complete_blocks,
    groups,
    quiet,
    require_columns,
    results_table,
)

COCHRAN = "cochran_q"
FRIEDMAN = "friedman"

# METHODS 6: Friedman on attitudes is run separately for the regular personas (the 162 plus the
# empty persona) and for the 30 control personas. Keys: family name; values: persona sets in it.
STUDY_FAMILIES: dict[str, tuple[str, ...]] = {"regular": ("regular", "empty"), "control": ("control",)}


def effect_size(statistic: float, n: int, k: int) -> float:
    """statistic / (n (k - 1)) for a chi-square omnibus test over n blocks and k groups: Kendall's
    W for Friedman's chi-square (W = chi2 / (n (k - 1))), and for Cochran's Q the eta-squared Q of
    Serlin, Carr & Marascuilo (1982), Q / (n (k - 1)) (see Tomczak & Tomczak 2014). Both lie in
    [0, 1]: 0 when the groups do not differ, 1 when they differ in every block as much as the
    blocks allow."""
    return float(statistic) / (n * (k - 1)) if n > 0 and k > 1 else float("nan")


def cochrans_q(
    data: pd.DataFrame | np.ndarray,
    *,
    value: str = "value",
    item: str = "item_id",
    persona: str = "persona",
) -> StatResult:
    """Cochran's Q over an items x personas 0/1 matrix (METHODS 6), computed by statsmodels.

    `data` is a long table with columns `item`, `persona`, `value` (0/1 or bool; NaN = missing) or
    a wide matrix (rows items, columns personas). Items without an answer from every persona are
    dropped. Degenerate cases give NaN with a reason: fewer than two personas, no complete item,
    or every item answered identically by all personas (Q = 0/0).
    """
    what = "Cochran's Q"
    matrix = as_matrix(data, row=item, column=persona, value=value, what=what)
    values = matrix.to_numpy()
    bad = np.unique(values[~np.isnan(values) & (values != 0) & (values != 1)])
    if bad.size:
        raise PersonalibError(
            f"{what} needs binary values (0/1 or True/False) in '{value}'; found {bad[:3].tolist()}. "
            "Pass a per-item outcome such as hit, biased, unknown or refused."
        )
    k = matrix.shape[1]
    if k < 2:
        return StatResult(COCHRAN, n=len(matrix), k=k,
                          reason=f"only {k} persona(s): Cochran's Q needs at least two")
    matrix, note = complete_blocks(matrix, "items")
    n = len(matrix)
    if n == 0:
        return StatResult(COCHRAN, k=k, note=note,
                          reason="no item has an answer from every persona: Cochran's Q is undefined")
    x = matrix.to_numpy()
    if (x.min(axis=1) == x.max(axis=1)).all():
        return StatResult(COCHRAN, dof=float(k - 1), n=n, k=k, note=note,
                          reason="all personas gave the same answers: Cochran's Q is undefined")
    with quiet():
        res = _sm_cochrans_q(x)
    q = float(res.statistic)
    return StatResult(COCHRAN, q, float(res.df), float(res.pvalue), n, k, note=note,
                      effect_size=effect_size(q, n, k))


def cochrans_q_table(
    data: pd.DataFrame,
    *,
    values: str | Sequence[str] = "value",
    by: Sequence[str] = ("model", "dataset"),
    item: str = "item_id",
    persona: str = "persona",
) -> pd.DataFrame:
    """Cochran's Q per group (default: per model and dataset) and per outcome column (METHODS 6).

    `data` is the long per-item table (one row per model x dataset x item x persona) with one or
    more 0/1 outcome columns named in `values`. Returns one row per group and outcome: the `by`
    columns, `measure` (the outcome column), then the StatResult fields.
    """
    values = [values] if isinstance(values, str) else list(values)
    by = check_by(data, by, "Cochran's Q table")
    require_columns(data, [item, persona, *values], "Cochran's Q table")
    rows = []
    for key, sub in groups(data, by):
        for measure in values:
            res = cochrans_q(sub[[item, persona, measure]], value=measure, item=item, persona=persona)
            rows.append({**key, "measure": measure, **res.as_dict()})
    return results_table(rows, [*by, "measure"])


def friedman(
    data: pd.DataFrame | np.ndarray,
    *,
    value: str = "value",
    block: str = "block",
    group: str = "persona",
) -> StatResult:
    """Friedman's test, groups = personas, blocks = statements or tweets (METHODS 6), by pingouin.

    `data` is a long table with columns `block`, `group`, `value` or a wide matrix (rows blocks,
    columns groups). Blocks without a value for every group are dropped. Degenerate cases give NaN
    with a reason: fewer than two personas, fewer than two complete blocks (with one block the
    statistic is always k - 1), or every block entirely tied (the tie-corrected statistic is 0/0).
    """
    matrix = as_matrix(data, row=block, column=group, value=value, what="Friedman's test")
    k = matrix.shape[1]
    if k < 2:
        return StatResult(FRIEDMAN, n=len(matrix), k=k,
                          reason=f"only {k} persona(s): Friedman's test needs at least two")
    matrix, note = complete_blocks(matrix, "blocks")
    n = len(matrix)
    if n < 2:
        return StatResult(FRIEDMAN, dof=float(k - 1), n=n, k=k, note=note,
                          reason=f"{n} complete block(s): Friedman's test needs at least two "
                                 "statements or tweets with a score from every persona")
    x = matrix.to_numpy()
    if (x.min(axis=1) == x.max(axis=1)).all():
        return StatResult(FRIEDMAN, dof=float(k - 1), n=n, k=k, note=note,
                          reason="all personas gave the same score within every block: "
                                 "Friedman's test is undefined")
    long = pd.DataFrame({
        "block": np.repeat(np.arange(n), k),
        "group": np.tile(np.arange(k), n),
        "value": x.reshape(-1),
    })
    with quiet():
        res = pg.friedman(long, dv="value", within="group", subject="block", method="chisq")
    row = res.iloc[0]
    p = row["p_unc"] if "p_unc" in res.columns else row["p-unc"]
    chi2 = float(row["Q"])
    return StatResult(FRIEDMAN, chi2, float(row["ddof1"]), float(p), n, k, note=note,
                      effect_size=effect_size(chi2, n, k))


def friedman_table(
    data: pd.DataFrame,
    *,
    value: str = "value",
    block: str = "block",
    group: str = "persona",
    by: Sequence[str] = ("model",),
) -> pd.DataFrame:
    """Friedman's test per group of `by` on a long table; tidy result (by columns + StatResult)."""
    by = check_by(data, by, "Friedman table")
    require_columns(data, [block, group, value], "Friedman table")
    rows = []
    for key, sub in groups(data, by):
        res = friedman(sub[[block, group, value]], value=value, block=block, group=group)
        rows.append({**key, **res.as_dict()})
    return results_table(rows, by)


def friedman_attitudes(
    ratings: pd.DataFrame,
    *,
    value: str = "rating",
    by: Sequence[str] = ("model",),
    families: Mapping[str, Sequence[str]] = STUDY_FAMILIES,
    persona_set: str = "persona_set",
    attitude: str = "attitude",
    statement: str = "statement_index",
    persona: str = "persona",
) -> pd.DataFrame:
    """Friedman per model, persona family and attitude on the questionnaire ratings (METHODS 6).

    `ratings`: one row per model x persona x attitude prompt (statement x instruction variant),
    with the scored rating (reverse items already scored 6 - x) in `value`. Each persona's value per
    statement is its mean over the variants (NaN ratings skipped); blocks = statements, groups =
    personas. Families (default: the study's regular = regular + empty, control = control) are
    tested separately; a persona set not named in `families` is its own family.
    """
    what = "Friedman on attitudes"
    by = check_by(ratings, by, what)
    require_columns(ratings, [persona_set, attitude, statement, persona, value], what)
    family_of = {s: fam for fam, sets in families.items() for s in sets}
    table = ratings.assign(family=ratings[persona_set].map(lambda s: family_of.get(s, s)))
    keys = [*by, "family", attitude, statement, persona]
    means = table.groupby(keys, sort=False, dropna=False)[value].mean().reset_index()
    order = list(families) + [f for f in means["family"].unique() if f not in families]
    means["family"] = pd.Categorical(means["family"], categories=order)
    means = means.sort_values([*by, "family"], kind="stable")
    rows = []
    for key, sub in groups(means, [*by, "family", attitude]):
        res = friedman(sub, value=value, block=statement, group=persona)
        rows.append({**key, **res.as_dict()})
    out = results_table(rows, [*by, "family", attitude])
    out["family"] = out["family"].astype(str)
    return out.rename(columns={attitude: "attitude"}) if attitude != "attitude" else out


def friedman_toxicity(
    ratings: pd.DataFrame,
    *,
    value: str = "rating",
    by: Sequence[str] = ("model", "measure"),
    tweet: str = "tweet_index",
    persona: str = "persona",
) -> pd.DataFrame:
    """Friedman per model and toxicity measure (offensiveness, racism): blocks = tweets, groups =
    all personas (METHODS 6). `ratings`: one row per model x measure x tweet x persona."""
    return friedman_table(ratings, value=value, block=tweet, group=persona, by=by)


__all__ = [
    "STUDY_FAMILIES", "cochrans_q", "cochrans_q_table", "effect_size", "friedman", "friedman_table",
    "friedman_attitudes", "friedman_toxicity",
]
