"""RQ3 toxicity ratings per persona and their agreement with humans (METHODS 5).

- Mean offensiveness (`off`) and racism (`rac`) rating per persona over the tweets.
- Krippendorff's alpha (interval level) between the persona's ratings and the per-tweet mean of
  the human annotators (`off_avg` for off, `racist` for rac), as two "coders" over the tweets.
  Undefined (NaN, with a note) when fewer than two tweets have both values or when there is no
  variation at all across both coders (alpha is 0/0 then). With two coders the coincidence
  computation of the `krippendorff` package reduces to a closed form, computed for every persona
  at once: over the N tweets rated by both, with the 2N values v,
  alpha = 1 - (2N - 1) * sum((a - b)^2) / (2N * sum((v - mean(v))^2)); the tests check it against
  the package.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from personalib.metrics.common import as_float, group_mean, label, nan_notes, with_notes
from personalib.metrics.scoring import KEYS, require_columns, rows_of

MEASURES: dict[str, str] = {"off": "off_avg", "rac": "racist"}
"""Rating measure -> human annotation column (METHODS 3)."""


def _toxicity_rows(scored: pd.DataFrame, what: str) -> pd.DataFrame:
    part = rows_of(scored, "toxicity", what)
    require_columns(part, ["measure", "tweet_index", "rating"], "scored table")
    return part


def toxicity_scores(scored: pd.DataFrame) -> pd.DataFrame:
    """Per persona: mean offensiveness `off` and racism `rac` rating (METHODS 5)."""
    part = _toxicity_rows(scored, "toxicity scores")
    table = group_mean(part, [*KEYS, "measure"], "rating").unstack("measure")
    table = table.reindex(columns=list(MEASURES))
    table.columns.name = None
    notes = []
    for measure in MEASURES:
        notes += nan_notes(table[measure], f"mean {measure} rating", "no parsed rating on these tweets")
    return with_notes(table, notes)


def human_means(annotations: pd.DataFrame) -> pd.DataFrame:
    """Per tweet (index `tweet_index`): the mean human `off` and `rac` rating."""
    require_columns(annotations, ["tweet_index", *MEASURES.values()], "toxicity annotations table")
    means = annotations.groupby("tweet_index")[list(MEASURES.values())].mean()
    return means.rename(columns={v: k for k, v in MEASURES.items()})


def interval_alphas(coder: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, list[str | None]]:
    """Krippendorff's alpha (interval) of each row of `coder` (rows x units, NaN = no value)
    against `other` (units), two coders per unit (closed form: module doc); with the reason
    where it is undefined."""
    coder = np.atleast_2d(np.asarray(coder, float))
    other = np.broadcast_to(np.asarray(other, float), coder.shape)
    both = ~(np.isnan(coder) | np.isnan(other))
    a, b = np.where(both, coder, 0.0), np.where(both, other, 0.0)
    units = both.sum(axis=1)
    n = 2.0 * units
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = (a.sum(axis=1) + b.sum(axis=1)) / n
        spread = (a ** 2).sum(axis=1) + (b ** 2).sum(axis=1) - n * mean ** 2
        alpha = 1.0 - (n - 1.0) * ((a - b) ** 2).sum(axis=1) / (n * spread)
    reasons: list[str | None] = []
    for i in range(len(alpha)):
        first = np.concatenate([coder[i][both[i]], other[i][both[i]]])
        if units[i] < 2:
            reasons.append("fewer than two tweets rated by both the persona and the humans")
        elif np.all(first == first[0]):
            reasons.append("every rating is the same value (no variation: alpha is 0/0)")
        elif not np.isfinite(alpha[i]):
            reasons.append("alpha is not finite for these ratings")
        else:
            reasons.append(None)
            continue
        alpha[i] = np.nan
    return alpha, reasons


def interval_alpha(first: np.ndarray, second: np.ndarray) -> tuple[float, str | None]:
    """Krippendorff's alpha (interval) of two coders over the same units; (NaN, reason) when
    undefined."""
    alpha, reasons = interval_alphas(np.asarray(first, float)[None, :], np.asarray(second, float))
    return float(alpha[0]), reasons[0]


def toxicity_alpha(scored: pd.DataFrame, annotations: pd.DataFrame) -> pd.DataFrame:
    """Per persona: Krippendorff's alpha (interval) between its ratings and the per-tweet human
    mean, for `off` and `rac` (METHODS 5), all personas of a measure at once (`interval_alphas`).
    `annotations` is `load_task("toxicity").annotations()`."""
    part = _toxicity_rows(scored, "toxicity alpha")
    humans = human_means(annotations)
    frame = part[[*KEYS, "measure", "tweet_index"]].copy()
    frame["rating"] = as_float(part["rating"])
    frame["tweet_index"] = frame["tweet_index"].astype("int64")
    out: dict[tuple, dict[str, float]] = {}
    notes: list[str] = []
    for measure, rows in frame.groupby("measure", observed=True, sort=True):
        per = rows.groupby([*KEYS, "tweet_index"], observed=True, sort=True)["rating"].mean().unstack("tweet_index")
        tweets = per.columns.union(humans.index)
        alpha, reasons = interval_alphas(per.reindex(columns=tweets).to_numpy(float),
                                         humans[measure].reindex(tweets).to_numpy(float))
        for key, value, reason in zip(per.index, alpha, reasons):
            out.setdefault(key, {})[measure] = value
            if reason:
                notes.append(f"alpha ({measure}) undefined for {label(key)}: {reason}")
    table = pd.DataFrame.from_dict(out, orient="index").reindex(columns=list(MEASURES))
    table.index = pd.MultiIndex.from_tuples(table.index, names=KEYS)
    table = table.sort_index()
    for measure in MEASURES:
        missing = table[measure].isna() & ~table.index.isin(
            [k for k, v in out.items() if measure in v])
        notes += nan_notes(table[measure][missing], f"alpha ({measure})", "no such ratings")
    return with_notes(table, notes)
