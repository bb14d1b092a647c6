"""Cross-model consistency of persona rankings within a persona category (METHODS 6).

For each persona category (and metric), every pair of models is compared by Kendall's tau-b
(scipy `kendalltau(variant="b")`) between their per-persona scores, over the personas both models
scored. The ranking is consistent when the mean tau over model pairs is >= .5 (METHODS 6; the
original notebook tested > .5). The consensus ranking orders the category's personas by their mean
score over the models, highest first (the original sorted by the same mean), ties by persona stem.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from personalib.stats.result import quiet, require_columns, text_columns, to_matrix

CONSISTENCY_THRESHOLD = 0.5
CONSISTENCY_COLUMNS: tuple[str, ...] = (
    "category", "metric", "n_models", "n_personas", "n_pairs", "mean_tau", "consistent",
    "ranking", "reason",
)


def consensus_ranking(wide: pd.DataFrame) -> list[str]:
    """Personas (rows of a personas x models table) by mean score over models, highest first;
    ties broken by persona stem; personas without any score are left out."""
    means = wide.mean(axis=1, skipna=True).dropna()
    order = pd.DataFrame({"persona": means.index.astype(str), "mean": means.to_numpy()})
    order = order.sort_values(["mean", "persona"], ascending=[False, True], kind="stable")
    return order["persona"].tolist()


def _pair_taus(wide: pd.DataFrame) -> tuple[list[float], list[str], list[str]]:
    """Kendall tau-b for each model pair; also the constant models and the pairs left undefined."""
    taus: list[float] = []
    constant: list[str] = []
    sparse: list[str] = []
    for a, b in combinations(wide.columns, 2):
        pair = wide[[a, b]].dropna()
        if len(pair) < 2:
            sparse.append(f"{a} vs {b}")
            continue
        flat = [m for m in (a, b) if pair[m].nunique() == 1]
        if flat:
            constant.extend(m for m in flat if m not in constant)
            continue
        with quiet():
            taus.append(float(kendalltau(pair[a], pair[b], variant="b").statistic))
    return taus, constant, sparse


def _reason(n_models: int, n_personas: int, category: object, taus: list[float],
            constant: list[str], sparse: list[str]) -> str | None:
    """Plain-language reason for a NaN mean tau, or for the model pairs it leaves out."""
    if n_models == 0:
        return f"no scores in category '{category}'"
    if n_models < 2:
        return "only one model: cross-model consistency needs at least two"
    if n_personas < 2:
        return f"only one persona in category '{category}': there is no ranking to compare"
    parts = []
    if constant:
        parts.append(f"{', '.join(map(str, constant))} gave every persona in '{category}' the same "
                     "score: Kendall's tau is undefined for its pairs")
    if sparse:
        parts.append(f"fewer than two shared personas for {', '.join(map(str, sparse))}")
    if not parts:
        return None
    lead = "no model pair could be compared: " if not taus else "pairs left out of the mean: "
    return lead + "; ".join(parts)


def cross_model_consistency(
    scores: pd.DataFrame,
    *,
    value: str = "value",
    metric: str | None = None,
    model: str = "model",
    persona: str = "persona",
    category: str = "category",
    threshold: float = CONSISTENCY_THRESHOLD,
) -> pd.DataFrame:
    """Kendall tau-b cross-model consistency of per-persona scores within each category (METHODS 6).

    `scores`: one row per model x persona (x metric when `metric` names a column) with the
    persona's `category` and its score in `value`. Returns one row per category (and metric):
    category, metric, n_models, n_personas, n_pairs (model pairs with a defined tau), mean_tau,
    consistent (mean_tau >= threshold; <NA> when undefined), ranking (consensus, " > "-joined) and
    reason (why mean_tau is NaN, or which pairs were left out; None when all pairs count).
    """
    what = "cross-model consistency"
    require_columns(scores, [model, persona, category, value, *([metric] if metric else [])], what)
    table = scores.assign(_metric=scores[metric] if metric else value)
    rows = []
    for (cat, met), sub in table.groupby([category, "_metric"], sort=False, dropna=False):
        wide = to_matrix(sub, row=persona, column=model, value=value, what=what)
        wide = wide.dropna(axis=1, how="all").dropna(axis=0, how="all")
        n_models, n_personas = wide.shape[1], wide.shape[0]
        taus, constant, sparse = ([], [], []) if min(n_models, n_personas) < 2 else _pair_taus(wide)
        mean_tau = float(np.mean(taus)) if taus else float("nan")
        rows.append({
            "category": cat, "metric": met, "n_models": n_models, "n_personas": n_personas,
            "n_pairs": len(taus), "mean_tau": mean_tau,
            "consistent": pd.NA if np.isnan(mean_tau) else bool(mean_tau >= threshold),
            "ranking": " > ".join(consensus_ranking(wide)),
            "reason": _reason(n_models, n_personas, cat, taus, constant, sparse),
        })
    out = pd.DataFrame(rows, columns=list(CONSISTENCY_COLUMNS))
    out["consistent"] = out["consistent"].astype("boolean")
    out["mean_tau"] = out["mean_tau"].astype(float)
    return text_columns(out, ["reason"])


__all__ = ["CONSISTENCY_THRESHOLD", "consensus_ranking", "cross_model_consistency"]
