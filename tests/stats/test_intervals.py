"""Tests for personalib.stats.intervals: Wilson against statsmodels, the stratified bootstrap
against a plain per-round loop over resampled scored rows (same draws, scores by
personalib.metrics) and against scipy's bootstrap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import bootstrap
from statsmodels.stats.proportion import proportion_confint

from personalib import metrics
from personalib.errors import PersonalibError
from personalib.stats import (
    bootstrap_scores,
    encode,
    rate,
    score_intervals,
    stratum_mean,
    study_outcomes,
    study_scores,
    wilson_interval,
)
from tests.stats.synthetic import scored

PERSONAS = ["a", "b", "c"]


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_wilson_matches_statsmodels(confidence: float) -> None:
    k = np.array([0, 1, 5, 17, 306, 621, 817, 3])
    n = np.array([10, 10, 40, 17, 817, 817, 817, 3])
    low, high = wilson_interval(k, n, confidence)
    ref_low, ref_high = proportion_confint(k, n, alpha=1 - confidence, method="wilson")
    np.testing.assert_allclose(low, ref_low, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(high, ref_high, rtol=1e-12, atol=1e-15)


def test_wilson_edge_cases() -> None:
    low, high = wilson_interval(np.array([0, 2]), np.array([0, 4]))
    assert np.isnan(low[0]) and np.isnan(high[0]) and low[1] < 0.5 < high[1]
    with pytest.raises(PersonalibError, match="successes <= n"):
        wilson_interval(5, 4)
    with pytest.raises(PersonalibError, match="confidence"):
        wilson_interval(1, 4, confidence=95)


def _loop_bootstrap(rows: pd.DataFrame, out, rounds: int, seed: int, batch: int) -> np.ndarray:
    """The same stratified draws as bootstrap_scores, applied to the scored rows one round at a
    time and scored by personalib.metrics.bbq_bias (the reference computation)."""
    items = np.array(out.items)
    strata = [np.flatnonzero(out.strata == s) for s in range(len(out.stratum_labels))]
    rngs = [np.random.default_rng([seed, s]) for s in range(len(strata))]
    draws = [[] for _ in strata]
    for start in range(0, rounds, batch):
        b = min(batch, rounds - start)
        for s, (idx, rng) in enumerate(zip(strata, rngs, strict=True)):
            draws[s].extend(rng.integers(0, idx.size, size=(b, idx.size)))
    by_item = {k: g for k, g in rows.groupby("item_id", sort=False)}
    values = []
    for r in range(rounds):
        chosen = np.concatenate([strata[s][draws[s][r]] for s in range(len(strata))])
        sample = pd.concat([by_item[i] for i in items[chosen]], ignore_index=True)
        bias = metrics.bbq_bias(sample)["bias"].droplevel(["model", "persona_set"])
        values.append(bias.reindex(out.personas).to_numpy(float))
    return np.array(values)


def test_bootstrap_equals_a_loop_over_resampled_rows() -> None:
    rows = scored("bbq", 80, PERSONAS, seed=2, missing=0.05)
    out = study_outcomes(rows, "bbq", personas=PERSONAS)
    bias = [s for s in study_scores("bbq") if s.name == "bbq_bias"]
    fast = bootstrap_scores(out, bias, rounds=7, seed=11, batch=3)["bbq_bias"]
    np.testing.assert_allclose(fast, _loop_bootstrap(rows, out, 7, 11, 3), rtol=1e-12)


def test_bootstrap_single_stratum_matches_scipy_percentile_interval() -> None:
    rng = np.random.default_rng(5)
    x = (rng.random(400) < 0.62).astype(float)
    out = encode({"hit": x[:, None]})
    ours = score_intervals(out, [stratum_mean("hit")], rounds=4000, seed=1).iloc[0]
    ref = bootstrap((x,), np.mean, n_resamples=4000, method="percentile", random_state=2)
    assert ours["method"] == "bootstrap"
    assert ours["low"] == pytest.approx(ref.confidence_interval.low, abs=0.006)
    assert ours["high"] == pytest.approx(ref.confidence_interval.high, abs=0.006)


def test_intervals_table_wilson_for_rates_bootstrap_for_composites() -> None:
    rows = scored("mmlu", 120, PERSONAS, seed=3, missing=0.1)
    out = study_outcomes(rows, "mmlu", personas=PERSONAS)
    table = score_intervals(out, study_scores("mmlu"), rounds=200, seed=4)
    assert list(table.columns) == ["score", "persona", "value", "low", "high", "method", "n_items"]
    acc, ref = table[table.score == "accuracy"], table[table.score == "refusal_rate"]
    assert (acc.method == "bootstrap").all() and (ref.method == "wilson").all()
    assert ((acc.low <= acc.value) & (acc.value <= acc.high)).all()
    np.testing.assert_allclose(acc.value, metrics.mmlu_accuracy(rows).droplevel([0, 1])
                               .reindex(PERSONAS), rtol=1e-12)
    refusals = rows.groupby("persona")["refusal"].agg(["sum", "count"]).reindex(PERSONAS)
    low, high = proportion_confint(refusals["sum"], refusals["count"], method="wilson")
    np.testing.assert_allclose(ref.low, low)
    np.testing.assert_allclose(ref.high, high)
    again = score_intervals(out, study_scores("mmlu"), rounds=200, seed=4)
    pd.testing.assert_frame_equal(table, again)
    other = score_intervals(out, study_scores("mmlu"), rounds=200, seed=5)
    assert not np.allclose(other[other.score == "accuracy"].low, acc.low)


def test_same_draw_for_every_persona() -> None:
    """Identical persona columns get identical bootstrap values in every round."""
    rng = np.random.default_rng(8)
    col = (rng.random(300) < 0.5).astype(float)
    x = np.column_stack([col, col, 1 - col])
    out = encode({"hit": x}, rng.choice(["s1", "s2"], 300))
    boot = bootstrap_scores(out, [stratum_mean("hit")], rounds=50, seed=0)["hit"]
    np.testing.assert_array_equal(boot[:, 0], boot[:, 1])
    assert boot[:, 0].std() > 0


def test_rate_of_a_rating_uses_the_bootstrap() -> None:
    out = encode({"rating": np.random.default_rng(0).integers(1, 6, (50, 2)).astype(float)})
    table = score_intervals(out, [rate("rating")], rounds=100)
    assert (table.method == "bootstrap").all() and (table.low < table.high).all()
