"""Claim computations from the omnibus tests and the human correlations of a study (METHODS 6).

These claims count significant tests or compare correlation patterns, which per-persona scores do
not hold: each builds a table once from the study (`ClaimData.table`, one model at a time, with
the same analysis functions as the research-question reports) and counts in it.

- `omnibus` tests: Cochran's Q on per-item hits per model and dataset (RQ1), on biased and
  unknown BBQ answers (RQ2), on per-item refusals per model and refusal task (METHODS 4: toxicity
  split into offensiveness and racism); Friedman per model, persona family and attitude, and per
  model and toxicity measure (RQ3);
- `associations`: each model's correlations with the humans' (RQ3), their cosine similarity and
  the random baseline's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from personalib import stats
from personalib.claims.data import ClaimData, NotComputable, study_models

TEST_COLUMNS = ["model", "test", "key", "p_value"]
TASK_OF_MEASURE = {"off": "offensiveness", "rac": "racism"}


def _refusal_tests(study: Any) -> list[dict[str, Any]]:
    """Cochran's Q on per-item refusals per model and refusal task (six tasks, METHODS 4)."""
    rows = []
    for model in study.models_present:
        for dataset in study.datasets:
            if not study.has(dataset, model):
                continue
            scored = study.rows(dataset, model)
            parts = ([(TASK_OF_MEASURE[m], scored[scored["measure"].astype(str) == m]) for m in TASK_OF_MEASURE]
                     if dataset == "toxicity" else [(dataset, scored)])
            for task, part in parts:
                long = pd.DataFrame({"item_id": part["item_id"].astype(str), "persona": part["persona"].astype(str),
                                     "value": part["refusal"].astype(float)})
                res = stats.cochrans_q(long)
                rows.append({"model": model, "test": "cochran:refusal", "key": task, "p_value": res.p_value})
    return rows


def build_omnibus(study: Any) -> pd.DataFrame:
    """Every omnibus test of the study: model, test (`cochran:hit`, `cochran:biased`,
    `cochran:unknown`, `cochran:refusal`, `friedman:regular`, `friedman:control`,
    `friedman:toxicity`), key (dataset, task, attitude or measure), p_value."""
    from personalib.analysis import rq1, rq2, rq3

    rows = []
    for r in rq1.cochran_table(study).table.itertuples(index=False):
        rows.append({"model": r.model, "test": "cochran:hit", "key": r.dataset, "p_value": r.p_value})
    if study.has("bbq"):
        bias = rq2.cochran(study).table
        for r in bias.itertuples(index=False) if "measure" in bias else []:
            rows.append({"model": r.model, "test": f"cochran:{r.measure}", "key": "BBQ", "p_value": r.p_value})
    rows += _refusal_tests(study)
    attitudes = rq3.attitude_friedman(study).table
    for r in attitudes.itertuples(index=False) if "family" in attitudes else []:
        rows.append({"model": r.model, "test": f"friedman:{r.family}", "key": r.attitude, "p_value": r.p_value})
    toxicity = rq3.toxicity_friedman(study).table
    for r in toxicity.itertuples(index=False) if "measure" in toxicity else []:
        rows.append({"model": r.model, "test": "friedman:toxicity", "key": r.measure, "p_value": r.p_value})
    return pd.DataFrame(rows, columns=TEST_COLUMNS)


def _tests(data: ClaimData, test: str | list[str], expected: int | None = None,
           key: str | None = None) -> pd.DataFrame:
    """The p-values of one or more kinds of test for every model of the profile (all of them
    required; `expected`: how many each model must have, over the kinds)."""
    kinds = [test] if isinstance(test, str) else list(test)
    table = data.table("omnibus", build_omnibus)
    part = table[table["test"].isin(kinds) & table["model"].isin(study_models(data))]
    if key is not None:
        part = part[part["key"] == key]
    have = set(part["model"])
    lacking = [m for m in study_models(data) if m not in have]
    what = " or ".join(kinds) + (f" ({key})" if key else "")
    if lacking:
        raise NotComputable(f"no {what} test for {', '.join(lacking)}")
    if expected is not None and len(part) != expected * len(study_models(data)):
        raise NotComputable(f"{len(part)} {what} tests for {len(study_models(data))} model(s); "
                            f"the claim counts {expected} per model")
    undefined = part[part["p_value"].isna()]
    if len(undefined):
        which = ", ".join(f"{r.model} {r.key}" for r in undefined.head(3).itertuples())
        raise NotComputable(f"{len(undefined)} {what} test(s) undefined ({which})")
    return part


def tests_below(data: ClaimData, *, test: str | list[str], alpha: float, per_model: int | None = None,
                key: str | None = None) -> int:
    """How many tests of a kind (e.g. `cochran:hit`, or several kinds) have p < `alpha`, over the
    profile's models; `per_model`: how many tests each model must have (the claim's count),
    `key`: one attitude or measure only."""
    return int((_tests(data, test, per_model, key)["p_value"] < alpha).sum())


def tests_at_least(data: ClaimData, *, test: str | list[str], alpha: float, per_model: int | None = None,
                   key: str | None = None) -> int:
    """How many tests of a kind have p >= `alpha` (non-significant)."""
    return int((_tests(data, test, per_model, key)["p_value"] >= alpha).sum())


def p_value_of(data: ClaimData, *, test: str, model: str, key: str) -> float:
    """The p-value of one test (e.g. Friedman, regular personas, gpt-3.5, freedom of speech)."""
    part = _tests(data, test, key=key)
    row = part[part["model"] == model]
    if row.empty:
        raise NotComputable(f"no {test} test of {key} for {model}")
    return float(row["p_value"].iloc[0])


def build_associations(study: Any) -> Any:
    """The humans' and each model's correlation matrices and their cosine similarities (RQ3)."""
    from personalib.analysis import rq3

    assoc = rq3.associations(study)
    return assoc, rq3.similarity(assoc).table


def _assoc(data: ClaimData, kind: str) -> tuple[dict[str, Any], pd.DataFrame]:
    from personalib.analysis.rq3 import HUMANS

    assoc, sims = data.table("associations", build_associations)
    mats = getattr(assoc, kind)
    if HUMANS not in mats:
        raise NotComputable("no human correlation matrix: " + ("; ".join(assoc.notes) or "no annotations"))
    lacking = [m for m in study_models(data) if m not in mats]
    if lacking:
        raise NotComputable(f"no {kind} correlations for {', '.join(lacking)}")
    return mats, sims


def _cosines(data: ClaimData, kind: str) -> tuple[pd.Series, float]:
    from personalib.analysis.rq3 import COMPARISONS, RANDOM

    _, sims = _assoc(data, kind)
    part = sims[sims["comparison"] == COMPARISONS[kind]].set_index("model")["cosine"]
    values = part.reindex(list(study_models(data)))
    if values.isna().any() or RANDOM not in part.index or np.isnan(part[RANDOM]):
        raise NotComputable(f"a cosine similarity of the {kind} correlations is undefined")
    return values, float(part[RANDOM])


def models_above_baseline(data: ClaimData, *, kind: str = "attitudes") -> int:
    """In how many models the cosine similarity of the persona correlations with the humans'
    (`kind`: attitudes x attitudes or attitudes x annotations) exceeds the random baseline's."""
    values, baseline = _cosines(data, kind)
    return int((values > baseline).sum())


def most_similar_model(data: ClaimData, *, kind: str = "annotations") -> str:
    """The model whose correlations are most similar to the humans' (highest cosine)."""
    values, _ = _cosines(data, kind)
    return str(values.idxmax())


def models_with_signs(data: ClaimData, *, kind: str, row: str, signs: dict[str, int]) -> int:
    """In how many models the correlations of `row` with each column of `signs` have the given
    signs (+1 above 0, -1 below 0), e.g. racist beliefs with off_antiBlack (-) and off_aae (+)."""
    mats, _ = _assoc(data, kind)
    count = 0
    for model in study_models(data):
        r = mats[model].r
        values = [r.loc[row, col] for col in signs]
        if any(np.isnan(v) for v in values):
            raise NotComputable(f"{model}: a correlation of {row} with {', '.join(signs)} is undefined")
        count += all(np.sign(v) == s for v, s in zip(values, signs.values()))
    return count


__all__ = ["build_associations", "build_omnibus", "models_above_baseline", "models_with_signs",
           "most_similar_model", "p_value_of", "tests_at_least", "tests_below"]
