"""RQ3 toxicity ratings per persona and their agreement with humans (METHODS 5).

- Mean offensiveness (`off`) and racism (`rac`) rating per persona over the tweets.
- Krippendorff's alpha (interval level, `krippendorff` package) between the persona's ratings and
  the per-tweet mean of the human annotators (`off_avg` for off, `racist` for rac), as two
  "coders" over the tweets. Undefined (NaN, with a note) when fewer than two tweets have both
  values or when there is no variation at all across both coders (alpha is 0/0 then).
"""

from __future__ import annotations

import warnings

import krippendorff
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


def interval_alpha(first: np.ndarray, second: np.ndarray) -> tuple[float, str | None]:
    """Krippendorff's alpha (interval) of two coders over the same units; (NaN, reason) when
    undefined."""
    both = ~(np.isnan(first) | np.isnan(second))
    if both.sum() < 2:
        return np.nan, "fewer than two tweets rated by both the persona and the humans"
    values = np.concatenate([first[both], second[both]])
    if np.all(values == values[0]):
        return np.nan, "every rating is the same value (no variation: alpha is 0/0)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        alpha = float(krippendorff.alpha(reliability_data=np.vstack([first, second]),
                                         level_of_measurement="interval"))
    if not np.isfinite(alpha):
        return np.nan, "alpha is not finite for these ratings"
    return alpha, None


def toxicity_alpha(scored: pd.DataFrame, annotations: pd.DataFrame) -> pd.DataFrame:
    """Per persona: Krippendorff's alpha (interval) between its ratings and the per-tweet human
    mean, for `off` and `rac` (METHODS 5). `annotations` is `load_task("toxicity").annotations()`."""
    part = _toxicity_rows(scored, "toxicity alpha")
    humans = human_means(annotations)
    frame = part[[*KEYS, "measure", "tweet_index"]].copy()
    frame["rating"] = as_float(part["rating"])
    frame["tweet_index"] = frame["tweet_index"].astype("int64")
    out: dict[tuple, dict[str, float]] = {}
    notes: list[str] = []
    for key, rows in frame.groupby([*KEYS, "measure"], observed=True, sort=True):
        measure = key[-1]
        persona = rows.groupby("tweet_index")["rating"].mean()
        tweets = persona.index.union(humans.index)
        alpha, reason = interval_alpha(persona.reindex(tweets).to_numpy(float),
                                       humans[measure].reindex(tweets).to_numpy(float))
        out.setdefault(key[:-1], {})[measure] = alpha
        if reason:
            notes.append(f"alpha ({measure}) undefined for {label(key[:-1])}: {reason}")
    table = pd.DataFrame.from_dict(out, orient="index").reindex(columns=list(MEASURES))
    table.index = pd.MultiIndex.from_tuples(table.index, names=KEYS)
    for measure in MEASURES:
        missing = table[measure].isna() & ~table.index.isin(
            [k for k, v in out.items() if measure in v])
        notes += nan_notes(table[measure][missing], f"alpha ({measure})", "no such ratings")
    return with_notes(table, notes)
