"""Claim computations across the profile's models (METHODS 5-6): cross-model means and orders,
per-model counts, Kendall tau consistency and std ratios against the control personas.

`xbar` is the mean of a persona's score over the profile's models, all of which must score the
persona; per-model counts say in how many models a relation holds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from personalib.claims.data import ClaimData, NotComputable, complete, pool, scores_of, study_models
from personalib.stats.consistency import CONSISTENCY_THRESHOLD


def xbar(data: ClaimData, *, metric: str, personas: Sequence[str] | None = None) -> pd.Series:
    """persona -> mean score over the profile's models (default personas: the whole pool)."""
    people = list(personas) if personas is not None else pool(data)
    table = pd.DataFrame({m: scores_of(data, m, metric).reindex(people) for m in study_models(data)})
    missing = table.isna().any(axis=1)
    if missing.any():
        names = ", ".join(map(str, table.index[missing][:3]))
        more = f" and {int(missing.sum()) - 3} more" if missing.sum() > 3 else ""
        raise NotComputable(f"cross-model mean of {metric}: {names}{more} not scored by every model")
    return table.mean(axis=1)


def mean_ranks(data: ClaimData, *, metric: str, ascending: bool = False,
               category: str | None = None) -> pd.Series:
    """persona -> rank of its cross-model mean among the pool (all personas, or a category): 1 =
    best, accuracy-like scores descending and `ascending=True` scores (bias) ascending, ties
    sharing the best rank (CLAIMS conventions)."""
    means = xbar(data, metric=metric, personas=pool(data, category))
    return means.rank(ascending=ascending, method="min")


def mean_rank(data: ClaimData, *, metric: str, persona: str, ascending: bool = False,
              category: str | None = None) -> int:
    """The rank of one persona's cross-model mean among the pool (`mean_ranks`)."""
    ranks = mean_ranks(data, metric=metric, ascending=ascending, category=category)
    if persona not in ranks.index:
        raise NotComputable(f"persona {persona} is not in the pool")
    return int(ranks[persona])


def mean_value(data: ClaimData, *, metric: str, persona: str, scale: float = 1.0) -> float:
    """The cross-model mean score of one persona, times `scale`."""
    return float(xbar(data, metric=metric, personas=[persona]).iloc[0]) * scale


def _members(data: ClaimData, personas: Sequence[str] | None, category: str | None) -> list[str]:
    return list(personas) if personas is not None else pool(data, category)


def mean_order(data: ClaimData, *, metric: str, personas: Sequence[str] | None = None,
               category: str | None = None, n: int | None = None,
               ascending: bool = False) -> list[str]:
    """Personas (given, of a category, or all) by cross-model mean, highest first (ascending:
    lowest first; ties by stem); the first `n` when given."""
    means = xbar(data, metric=metric, personas=_members(data, personas, category))
    frame = pd.DataFrame({"p": means.index, "v": means.to_numpy()})
    order = frame.sort_values(["v", "p"], ascending=[ascending, True], kind="stable")["p"].tolist()
    return order[:n] if n is not None else order


def mean_above(data: ClaimData, *, metric: str, higher: Sequence[str], lower: Sequence[str]) -> bool:
    """min over `higher` of the cross-model mean > max over `lower` (C12, C13, C34)."""
    means = xbar(data, metric=metric, personas=[*higher, *lower])
    return bool(means[list(higher)].min() > means[list(lower)].max())


def _model_values(data: ClaimData, model: str, metric: str, personas: Sequence[str]) -> pd.Series:
    got = scores_of(data, model, metric).reindex(list(personas))
    if got.isna().any():
        raise NotComputable(f"{model}: {', '.join(got.index[got.isna()])} without a {metric} score")
    return got


def models_above(data: ClaimData, *, metric: str, higher: Sequence[str], lower: Sequence[str],
                 strict: bool = True) -> int:
    """In how many models min over `higher` > max over `lower` (>= when not strict)."""
    count = 0
    for m in study_models(data):
        got = _model_values(data, m, metric, [*higher, *lower])
        lo, hi = got[list(higher)].min(), got[list(lower)].max()
        count += bool(lo > hi if strict else lo >= hi)
    return count


def models_best(data: ClaimData, *, metric: str, persona: str, personas: Sequence[str] | None = None,
                category: str | None = None, ascending: bool = False) -> int:
    """In how many models `persona` has the highest (ascending: lowest) score of the group; a
    tie for first counts."""
    members = _members(data, personas, category)
    if persona not in members:
        raise NotComputable(f"persona {persona} is not in {category or 'the group'} in this profile")
    count = 0
    for m in study_models(data):
        got = _model_values(data, m, metric, members)
        best = got.min() if ascending else got.max()
        count += bool(got[persona] == best)
    return count


def model_extreme(data: ClaimData, *, metric: str, persona: str | None = None,
                  which: str = "min") -> str:
    """The model with the lowest (or highest) score of `persona`, or of its mean over the pool
    when no persona is given (C71, A15)."""
    values = {}
    for m in study_models(data):
        if persona is not None:
            values[m] = float(_model_values(data, m, metric, [persona]).iloc[0])
        else:
            values[m] = float(complete(scores_of(data, m, metric), pool(data), f"{m}'s {metric}").mean())
    series = pd.Series(values)
    return str(series.idxmin() if which == "min" else series.idxmax())


def is_consistent(data: ClaimData, *, metric: str, category: str) -> bool:
    """Mean Kendall tau-b over model pairs of the category's persona scores >= .5 (METHODS 6)."""
    from personalib.stats import cross_model_consistency

    part = data.scores[(data.scores["metric"] == metric) & (data.scores["category"] == category)]
    if part.empty:
        raise NotComputable(f"no {metric} score of a persona of category {category!r} in this profile")
    if set(part["model"]) < set(study_models(data)):
        raise NotComputable(f"consistency of {metric} in {category} needs every model's scores")
    table = cross_model_consistency(part[["model", "persona", "category", "value"]])
    row = table[table["category"] == category]
    if row.empty or np.isnan(row["mean_tau"].iloc[0]):
        reason = row["reason"].iloc[0] if len(row) else "no scores"
        raise NotComputable(f"consistency of {metric} in {category}: {reason}")
    return bool(row["mean_tau"].iloc[0] >= CONSISTENCY_THRESHOLD)


def _ratios(data: ClaimData, model: str, metric: str) -> pd.Series:
    from personalib.stats import std_ratios

    pool(data)  # every persona of the categories and the control personas (NotComputable if restricted)
    part = data.scores[(data.scores["model"] == model) & (data.scores["metric"] == metric)]
    if part.empty:
        raise NotComputable(f"no {metric} scores for {model} in this profile")
    table = std_ratios(part[["model", "persona", "category", "value"]])
    table = table[table["category"] != "empty"]
    if table["ratio"].isna().any():
        raise NotComputable(f"{model} {metric}: {table['reason'].dropna().iloc[0]}")
    return table.set_index("category")["ratio"]


def std_ratio_count(data: ClaimData, *, model: str, metric: str) -> int:
    """Number of persona categories whose std exceeds the control personas' std (METHODS 6)."""
    return int((_ratios(data, model, metric) > 1).sum())


def std_ratio_count_original(data: ClaimData, *, model: str, tasks: Sequence[str]) -> int:
    """Categories whose spread exceeds the control's as the original computed it for refusals
    (A12): per category, the mean over the tasks of the std (ddof 1) of its personas' task rates,
    over the mean over the tasks of the control personas' std; the count of ratios above 1."""
    pool(data)
    stds = []
    for task in tasks:
        part = data.scores[(data.scores["model"] == model) & (data.scores["metric"] == f"refusal:{task}")]
        if part.empty:
            raise NotComputable(f"no refusal:{task} scores for {model} in this profile")
        stds.append(part[part["category"] != "empty"].groupby("category")["value"].std(ddof=1))
    mean = pd.concat(stds, axis=1).mean(axis=1)
    if "control" not in mean.index or not mean["control"] > 0:
        raise NotComputable(f"{model}: the control personas' mean std of the task refusal rates is 0 or undefined")
    return int((mean.drop("control") / mean["control"] > 1).sum())


def std_ratio_models(data: ClaimData, *, metric: str, category: str) -> int:
    """In how many models the category's std exceeds the control personas' std."""
    count = 0
    for m in study_models(data):
        ratios = _ratios(data, m, metric)
        if category not in ratios.index:
            raise NotComputable(f"no persona of category {category} scored by {m}")
        count += bool(ratios[category] > 1)
    return count


def spread_above_control(data: ClaimData, *, metrics: Sequence[str]) -> bool:
    """Whether, for every model and metric, the regular personas' std (ddof 1, empty excluded)
    exceeds the control personas' std (C52, C84; A02)."""
    for m in study_models(data):
        for metric in metrics:
            values = scores_of(data, m, metric)
            regular = complete(values, list(data.personas.loc[data.personas["persona_set"] == "regular",
                                                              "persona"]), f"{m}'s regular {metric}")
            control = complete(values, pool(data, "control"), f"{m}'s control {metric}")
            if not regular.std(ddof=1) > control.std(ddof=1):
                return False
    return True


__all__ = ["is_consistent", "mean_above", "mean_order", "mean_rank", "mean_ranks", "mean_value",
           "model_extreme", "models_above", "models_best", "spread_above_control", "std_ratio_count",
           "std_ratio_count_original", "std_ratio_models", "xbar"]
