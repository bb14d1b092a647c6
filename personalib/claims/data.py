"""What a claim is recomputed from: per-persona scores of a profile's models and the setup tables.

`ClaimData.scores` is a long per-persona table with the columns `model, persona_set, persona,
category, metric, value` (the shape of `analysis.rq1.persona_scores`, with the score named in
`metric`). Metric names (METHODS 4-5):

- `truthfulqa`, `mmlu`, `bbq` (accuracies) and `overall` (their mean);
- `bias` and `unknown` (BBQ bias and unknown frequency; need the BBQ metadata);
- `refusal:<task>` for the six refusal tasks (`attitudes`, `offensiveness`, `racism`,
  `truthfulqa`, `mmlu`, `bbq`) and `refusal:average` (their mean);
- `attitude:<dimension>` (e.g. `attitude:altruism`), `off` and `rac` (mean toxicity ratings).

`claim_data(study)` builds it from a `personalib.analysis.Study` with the `personalib.metrics`
functions; any other source of the same table works as well.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from personalib import metrics
from personalib.errors import PersonalibError
from personalib.metrics.refusals import TASKS as REFUSAL_TASKS

SCORE_COLUMNS = ["model", "persona_set", "persona", "category", "metric", "value"]


class NotComputable(Exception):
    """A claim cannot be recomputed from this profile; the message says what is missing."""


@dataclass(frozen=True)
class ClaimData:
    """Per-persona scores, personas, items and annotations of one profile's models."""

    scores: pd.DataFrame
    personas: pd.DataFrame
    items: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    models: tuple[str, ...] = ()
    datasets: Mapping[str, frozenset[str]] = field(default_factory=dict)
    annotations: pd.DataFrame | None = None


def _melt(table: pd.DataFrame, names: Mapping[str, str]) -> pd.DataFrame:
    """A wide per-persona metrics table (index KEYS) as long rows of the named columns."""
    cols = [c for c in names if c in table.columns]
    long = table[cols].rename(columns=names).reset_index()
    long = long.melt(id_vars=list(metrics.KEYS), var_name="metric", value_name="value")
    return long.dropna(subset=["value"])


def claim_scores(scored: pd.DataFrame, categories: Mapping[str, str]) -> pd.DataFrame:
    """Every per-persona metric the claims use, from a scored table (`personalib.metrics.score`)
    of one or more models; `categories` maps persona stem -> category (METHODS 1)."""
    parts = []
    for _, own in scored.groupby("model", sort=False, observed=True):
        present = set(own["dataset"].astype(str))
        if present & {"truthfulqa", "mmlu", "bbq"}:
            table = metrics.performance_scores(own)
            parts.append(_melt(table, {c: c for c in ("truthfulqa", "mmlu", "bbq", "overall")}))
        if "bbq" in present and own.loc[own["dataset"] == "bbq", "target_loc"].notna().any():
            parts.append(_melt(metrics.bbq_bias(own), {"bias": "bias", "unknown_freq": "unknown"}))
        parts.append(_melt(metrics.refusal_rates(own),
                           {t: f"refusal:{t}" for t in (*REFUSAL_TASKS, "average")}))
        if "attitudes" in present:
            table = metrics.attitude_scores(own)
            parts.append(_melt(table, {c: f"attitude:{c}" for c in table.columns}))
        if "toxicity" in present:
            parts.append(_melt(metrics.toxicity_scores(own), {"off": "off", "rac": "rac"}))
    if not parts:
        return pd.DataFrame(columns=SCORE_COLUMNS)
    long = pd.concat(parts, ignore_index=True)
    long["category"] = long["persona"].map(dict(categories)).fillna("unknown")
    long["value"] = long["value"].astype(float)
    return long[SCORE_COLUMNS]


def claim_data(study: Any) -> ClaimData:
    """ClaimData of a `personalib.analysis.Study` (its scored rows, personas, items, annotations)."""
    scored = study.scored
    datasets = {m: frozenset(scored.loc[scored["model"] == m, "dataset"].astype(str))
                for m in study.models_present}
    return ClaimData(claim_scores(scored, study.persona_categories()), study.personas,
                     dict(study.items), tuple(study.models_present), datasets, study.annotations)


def scores_of(data: ClaimData, model: str, metric: str) -> pd.Series:
    """persona -> value of one model and metric; NotComputable naming what is missing."""
    if model not in data.models:
        raise NotComputable(f"model {model} not in this profile")
    part = data.scores[(data.scores["model"] == model) & (data.scores["metric"] == metric)]
    if part.empty:
        raise NotComputable(f"no {metric} scores for {model} in this profile")
    if part["persona"].duplicated().any():
        raise PersonalibError(f"{model} {metric}: a persona has two scores (two persona sets share "
                              "a stem); keep one")
    return part.set_index("persona")["value"].astype(float)


def study_models(data: ClaimData) -> tuple[str, ...]:
    """The profile's models with generations (NotComputable when there is none)."""
    if not data.models:
        raise NotComputable("no model with generations in this profile")
    return data.models


def pool(data: ClaimData, category: str | None = None) -> list[str]:
    """The personas of the profile (or of one category), in the profile's order."""
    people = data.personas if category is None else data.personas[data.personas["category"] == category]
    if people.empty:
        raise NotComputable(f"no persona of category {category!r} in this profile")
    return list(dict.fromkeys(people["persona"]))


def complete(values: pd.Series, people: list[str], what: str) -> pd.Series:
    """`values` restricted to `people`, all of whom must have one (else NotComputable)."""
    have = values.reindex(people).dropna()
    if len(have) < len(people):
        raise NotComputable(f"{what} needs every persona of the pool: {len(have)} of {len(people)} "
                            "have a score")
    return have


__all__ = ["ClaimData", "NotComputable", "SCORE_COLUMNS", "claim_data", "claim_scores", "complete",
           "pool", "scores_of", "study_models"]
