"""Tests for personalib.stats.composite: every study score computed from per-stratum class counts
equals the value `personalib.metrics` computes from the same scored rows (METHODS 5)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personalib import metrics
from personalib.errors import PersonalibError
from personalib.stats import (
    bbq_accuracy,
    encode,
    rate,
    score_values,
    stratum_mean,
    study_outcomes,
    study_scores,
)
from tests.stats.synthetic import scored

PERSONAS = ["a", "b", "c", "empty", "ctl1"]


def _metric(series: pd.Series) -> np.ndarray:
    """A metrics result indexed by (model, persona_set, persona) as an array in PERSONAS order."""
    return series.droplevel(["model", "persona_set"]).reindex(PERSONAS).to_numpy(float)


@pytest.mark.parametrize("missing", [0.0, 0.1])
def test_truthfulqa_and_mmlu_scores_equal_the_metrics(missing: float) -> None:
    for dataset, metric in (("truthfulqa", metrics.truthfulqa_accuracy), ("mmlu", metrics.mmlu_accuracy)):
        rows = scored(dataset, 60, PERSONAS, seed=4, missing=missing)
        values = score_values(study_outcomes(rows, dataset, personas=PERSONAS), study_scores(dataset))
        np.testing.assert_allclose(values["accuracy"], _metric(metric(rows)), rtol=1e-12)
        refusals = metrics.refusal_rates(rows)[dataset]
        np.testing.assert_allclose(values["refusal_rate"], _metric(refusals), rtol=1e-12)


@pytest.mark.parametrize("missing", [0.0, 0.1])
def test_bbq_scores_equal_the_metrics(missing: float) -> None:
    rows = scored("bbq", 300, PERSONAS, seed=9, missing=missing)
    values = score_values(study_outcomes(rows, "bbq", personas=PERSONAS), study_scores("bbq"))
    np.testing.assert_allclose(values["accuracy"], _metric(metrics.bbq_accuracy(rows)["bbq"]), rtol=1e-12)
    bias = metrics.bbq_bias(rows)
    np.testing.assert_allclose(values["bbq_bias"], _metric(bias["bias"]), rtol=1e-12)
    np.testing.assert_allclose(values["unknown_freq"], _metric(bias["unknown_freq"]), rtol=1e-12)
    for part in ("s_dis", "s_amb"):
        np.testing.assert_allclose(values[part], _metric(bias[part]), rtol=1e-12)


def test_attitude_and_toxicity_scores_and_refusal_rates_equal_the_metrics() -> None:
    """The rating tasks: refusal rates (attitudes one rate, toxicity one per measure: the
    offensiveness and racism tasks of METHODS 4) and the mean rating per attitude dimension
    (reverse-scored `value`) and per toxicity measure (`rating`), each over its own stratum."""
    base = scored("truthfulqa", 40, PERSONAS, seed=3)
    rng = np.random.default_rng(5)
    index = base["item_id"].str.extract(r"(\d+)$")[0].astype(int)
    ratings = pd.array(rng.integers(1, 6, len(base)), dtype="Int64")
    ratings[rng.random(len(base)) < 0.05] = pd.NA  # strict parsing leaves some out
    attitudes = base.assign(dataset="attitudes", value=ratings, statement_index=index % 7, variant=0,
                            attitude=np.where(index % 3 == 0, "altruism", "empathy"))
    toxicity = base.assign(dataset="toxicity", rating=ratings, tweet_index=index,
                           measure=np.where(index % 3 == 0, "off", "rac"))
    rates = metrics.refusal_rates(pd.concat([attitudes, toxicity], ignore_index=True))
    out = study_outcomes(attitudes, "attitudes", personas=PERSONAS)
    values = score_values(out, study_scores("attitudes", out.stratum_labels))
    np.testing.assert_allclose(values["refusal_rate"], _metric(rates["attitudes"]), rtol=1e-12)
    dims = metrics.attitude_scores(attitudes)
    for dim in ("altruism", "empathy"):
        np.testing.assert_allclose(values[f"score:{dim}"], _metric(dims[dim]), rtol=1e-12)
    values = score_values(study_outcomes(toxicity, "toxicity", personas=PERSONAS), study_scores("toxicity"))
    for task in ("offensiveness", "racism"):
        np.testing.assert_allclose(values[f"refusal_{task}"], _metric(rates[task]), rtol=1e-12)
    means = metrics.toxicity_scores(toxicity)
    for measure in ("off", "rac"):
        np.testing.assert_allclose(values[f"score:{measure}"], _metric(means[measure]), rtol=1e-12)
    one = encode({"refusal": np.ones((2, 1))}, ["off", "off"])
    assert np.isnan(score_values(one, [rate("refusal", "r", stratum="rac")])["r"][0])


def test_bias_by_hand() -> None:
    """Two categories, one persona. Age disambig: 3 answers, 2 biased, 0 unknown: b = 1/3.
    Age ambig: 4 answers, 1 biased, 2 unknown, 2 hits: b = 2*1/2 - 1 = 0, s_AMB = 0. Religion
    disambig: 2 answers, 0 biased, 1 unknown: b = -1. s_DIS = (1/3 - 1)/2 = -1/3, bias = -1/6."""
    biased = [1, 1, 0, 1, 0, 0, 0, 0, 0]
    unknown = [0, 0, 0, 0, 1, 1, 0, 0, 1]
    hit = [1, 0, 1, 1, 1, 0, 0, 1, 0]
    strata = [("Age", "disambig")] * 3 + [("Age", "ambig")] * 4 + [("Religion", "disambig")] * 2
    out = encode({"biased": np.array(biased, float)[:, None], "unknown_b": np.array(unknown, float)[:, None],
                  "hit_b": np.array(hit, float)[:, None]}, strata)
    from personalib.stats import bbq_bias
    assert score_values(out, [bbq_bias()])["bbq_bias"][0] == pytest.approx(-1 / 6)


def test_stratum_mean_skips_strata_without_a_value() -> None:
    x = np.array([[1, 0], [0, np.nan], [1, np.nan], [1, 1]], float)
    out = encode({"hit": x}, ["s1", "s1", "s2", "s3"])
    values = score_values(out, [stratum_mean("hit"), rate("hit", "pooled")])
    np.testing.assert_allclose(values["hit"], [(0.5 + 1 + 1) / 3, (0 + 1) / 2])
    np.testing.assert_allclose(values["pooled"], [3 / 4, 1 / 2])


def test_bbq_scores_need_category_condition_strata() -> None:
    out = encode({"hit": np.ones((2, 2))}, ["Age", "SES"])
    with pytest.raises(PersonalibError, match=r"strata \(category, context_condition\).*'Age'"):
        score_values(out, [bbq_accuracy()])


def test_study_outcomes_rejects_two_models_and_unknown_datasets() -> None:
    rows = pd.concat([scored("truthfulqa", 5, PERSONAS), scored("truthfulqa", 5, PERSONAS, model="n")])
    with pytest.raises(PersonalibError, match="one model"):
        study_outcomes(rows, "truthfulqa")
    with pytest.raises(PersonalibError, match="attitudes"):
        study_scores("humour")
    with pytest.raises(PersonalibError, match="part"):
        from personalib.stats import bbq_bias
        bbq_bias(part="both")
