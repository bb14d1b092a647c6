"""Claim computations from per-persona score tables (`ClaimData.scores`, METHODS 5-6).

Each function takes the `ClaimData` and keyword arguments from claims.yaml and returns a number,
a name, a list of names or a truth value; it raises `NotComputable` saying what is missing (a
model, a metric, personas of the pool). Conventions (CLAIMS.md): the pool is every persona of the
profile (ALL = regular + empty + control = 193 in the study) unless a `category` is named; ranks
count from 1 = best, accuracy-like scores descending and `ascending=True` scores (bias) ascending,
ties sharing the best rank; `scale=100` turns a share into p.p.; `xbar` is the mean over the
profile's models, which must all have the score.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from personalib.claims.data import ClaimData, NotComputable, complete, pool, scores_of, study_models


def persona_value(data: ClaimData, *, model: str, metric: str, persona: str,
                  scale: float = 1.0) -> float:
    """The score of one persona."""
    values = scores_of(data, model, metric)
    if persona not in values.index or np.isnan(values[persona]):
        raise NotComputable(f"persona {persona} has no {metric} score for {model}")
    return float(values[persona]) * scale


def difference(data: ClaimData, *, model: str, metric: str, a: str, b: str,
               scale: float = 100.0) -> float:
    """score(a) - score(b), times `scale`."""
    return (persona_value(data, model=model, metric=metric, persona=a)
            - persona_value(data, model=model, metric=metric, persona=b)) * scale


def ratio(data: ClaimData, *, model: str, metric: str, a: str, b: str) -> float:
    """score(a) / score(b)."""
    denominator = persona_value(data, model=model, metric=metric, persona=b)
    if denominator == 0:
        raise NotComputable(f"{b} has a {metric} score of 0 for {model}: the ratio is undefined")
    return persona_value(data, model=model, metric=metric, persona=a) / denominator


def _ranked(data: ClaimData, model: str, metric: str, category: str | None,
            ascending: bool) -> pd.Series:
    """The pool's scores, best first (ties by stem), all personas of the pool required."""
    people = pool(data, category)
    what = f"ranking {model}'s {metric} over {category or 'all personas'}"
    values = complete(scores_of(data, model, metric), people, what)
    if len(values) < 2:
        raise NotComputable(f"{what}: {len(values)} persona(s), a ranking needs at least two")
    frame = pd.DataFrame({"persona": values.index, "value": values.to_numpy()})
    frame = frame.sort_values(["value", "persona"], ascending=[ascending, True], kind="stable")
    return frame.set_index("persona")["value"]


def extremes(data: ClaimData, *, model: str, metric: str, category: str | None = None,
             ascending: bool = False) -> list[str]:
    """[best persona, worst persona] of the pool."""
    ranked = _ranked(data, model, metric, category, ascending)
    return [str(ranked.index[0]), str(ranked.index[-1])]


def top(data: ClaimData, *, model: str, metric: str, n: int = 2, category: str | None = None,
        ascending: bool = False) -> list[str]:
    """The n best personas of the pool, best first (ascending=True: the n lowest)."""
    return [str(p) for p in _ranked(data, model, metric, category, ascending).index[:n]]


def gap(data: ClaimData, *, model: str, metric: str, category: str | None = None,
        scale: float = 100.0) -> float:
    """max - min of the score over the pool, times `scale`."""
    ranked = _ranked(data, model, metric, category, False)
    return float(ranked.iloc[0] - ranked.iloc[-1]) * scale


def rank(data: ClaimData, *, model: str, metric: str, persona: str, category: str | None = None,
         ascending: bool = False) -> int:
    """Rank of a persona in the pool (1 = best; ties share the best rank)."""
    ranked = _ranked(data, model, metric, category, ascending)
    if persona not in ranked.index:
        raise NotComputable(f"persona {persona} is not in the pool")
    value = ranked[persona]
    better = (ranked < value) if ascending else (ranked > value)
    return int(better.sum()) + 1


def models_in_top(data: ClaimData, *, metric: str, persona: str, k: int,
                  category: str | None = None) -> int:
    """In how many of the profile's models the persona ranks k-th or better."""
    return sum(rank(data, model=m, metric=metric, persona=persona, category=category) <= k
               for m in study_models(data))


def model_gaps(data: ClaimData, metrics: Sequence[str], scale: float = 100.0) -> pd.Series:
    """(model, metric) -> gap over all personas, for every model of the profile."""
    return pd.Series({(m, k): gap(data, model=m, metric=k, scale=scale)
                      for m in study_models(data) for k in metrics})


def gap_extreme(data: ClaimData, *, metrics: Sequence[str], which: str = "max",
                scale: float = 100.0) -> float:
    """The largest (`which="max"`) or smallest gap over the profile's models and the metrics."""
    gaps = model_gaps(data, metrics, scale)
    return float(gaps.max() if which == "max" else gaps.min())


def gap_extreme_model(data: ClaimData, *, metrics: Sequence[str], which: str = "max") -> str:
    """The model with the largest (or smallest) gap over the metrics."""
    gaps = model_gaps(data, metrics)
    key = gaps.idxmax() if which == "max" else gaps.idxmin()
    return str(key[0])


def share_beyond(data: ClaimData, *, model: str, metric: str, threshold: float,
                 above: bool = True) -> float:
    """Share of the pool whose score is above (or below) a threshold (C29-C31)."""
    values = complete(scores_of(data, model, metric), pool(data), f"{model}'s {metric} shares")
    return float(((values > threshold) if above else (values < threshold)).mean())


def controls_above(data: ClaimData, *, model: str, metric: str, reference: str = "empty",
                   reading: str = "all", below: bool = False) -> bool:
    """Whether the control personas score above (`below=True`: below) `reference`: every one
    (`reading="all"`) or their mean (`"mean"`) (C65, A21)."""
    values = scores_of(data, model, metric)
    controls = complete(values, pool(data, "control"), f"{model}'s control {metric} scores")
    ref = persona_value(data, model=model, metric=metric, persona=reference)
    sign = -1.0 if below else 1.0
    return bool((sign * controls > sign * ref).all() if reading == "all" else sign * controls.mean() > sign * ref)


__all__ = ["controls_above", "difference", "extremes", "gap", "gap_extreme", "gap_extreme_model",
           "model_gaps", "models_in_top", "persona_value", "rank", "ratio", "share_beyond", "top"]
