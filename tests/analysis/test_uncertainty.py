"""The reports' uncertainty (personalib.analysis.uncertainty and its use in rq1, rq2, rq4) on the
fixture stores: intervals bracket the scores the metrics compute, combined scores are the mean of
their datasets' draws, the gap nulls agree with the gap tables, the control gap is the control
personas' own spread, and the cached draws are reused and keyed by what they depend on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personalib import stats
from personalib.analysis import Study, rq1, rq2, rq3, rq4
from personalib.analysis import uncertainty as uncert

ROUNDS = 199  # the tests are not about the null itself: fewer rounds than the reports' 999


@pytest.fixture(scope="module")
def unc(study: Study) -> uncert.Uncertainty:
    return uncert.collect(study, ["truthfulqa", "mmlu", "bbq", "attitudes", "toxicity"], rounds=ROUNDS)


def test_intervals_bracket_the_metric_scores(study: Study, unc) -> None:
    scores = rq1.persona_scores(study)
    both = rq1.with_intervals(scores, rq1.score_intervals(unc)).table
    assert len(both) == len(scores.table) and both[["low", "high"]].notna().all().all()
    assert (both["low"] <= both["value"] + 1e-12).all() and (both["value"] <= both["high"] + 1e-12).all()
    methods = rq1.score_intervals(unc).table.groupby("dataset")["method"].unique()
    assert list(methods["TruthfulQA"]) == ["wilson"]  # a rate
    assert {m for d in ("MMLU", "BBQ", "overall") for m in methods[d]} == {"bootstrap"}
    wide = rq1.wide_scores(rq1.with_intervals(scores, rq1.score_intervals(unc)))
    assert {"TruthfulQA low", "TruthfulQA high", "overall low", "overall high"} <= set(wide.columns)


def test_overall_draws_are_the_mean_of_the_three_datasets(unc) -> None:
    nulls = uncert.gap_nulls(unc, rq1.SPEC, rq1.COMBOS)
    parts = [unc.draws[("zephyr", d)] for d in ("truthfulqa", "mmlu", "bbq")]
    persona = "a_woman"
    column = [d.null["accuracy"][:, d.personas.index(persona)].astype(float) for d in parts]
    combined = uncert._combined([(d, "accuracy") for d in parts], "null")
    np.testing.assert_allclose(combined[persona].to_numpy(), np.mean(column, axis=0), rtol=1e-6)
    hand = combined.max(axis=1) - combined.min(axis=1)
    assert nulls[("zephyr", "overall")].chance_p95 == pytest.approx(np.quantile(hand, 0.95))


def test_gap_nulls_agree_with_the_gap_table_and_the_control_personas(study: Study, unc) -> None:
    scores = rq1.persona_scores(study)
    gaps = rq1.gap_table(scores, unc).table.set_index(["model", "dataset"])
    chance = uncert.gap_table(uncert.gap_nulls(unc, rq1.SPEC, rq1.COMBOS)).set_index(["model", "dataset"])
    assert gaps["gap"].to_numpy() == pytest.approx(chance.loc[gaps.index, "gap"].to_numpy())
    assert ((chance["p_value"] >= 1 / (ROUNDS + 1)) & (chance["p_value"] <= 1)).all()
    controls = scores.table[(scores.table["category"] == "control") & (scores.table["model"] == "mistral")]
    mmlu = controls[controls["dataset"] == "MMLU"]["value"]
    assert gaps.loc[("mistral", "MMLU"), "control_gap"] == pytest.approx(mmlu.max() - mmlu.min())
    assert chance["n_control"].eq(4).all()
    keys = rq1.key_numbers(rq1.gap_table(scores, unc), rq1.cochran_table(study))
    assert keys["zephyr.overall.gap_p"] == pytest.approx(chance.loc[("zephyr", "overall"), "p_value"])
    line = rq1.headline_text(rq1.gap_table(scores, unc), scores)
    assert "by chance" in line and "(95th percentile); p = 0." in line and "control personas" in line


def test_cached_draws_are_reused_and_keyed_by_rounds(study: Study, unc, monkeypatch) -> None:
    path = uncert.cache_path(study, "zephyr", "bbq", ROUNDS, uncert.SEED)
    assert path.exists() and path.is_relative_to(study.store)

    def no_compute(*args, **kwargs):
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr(uncert, "compute_draws", no_compute)
    again = uncert.collect(study, ["bbq"], rounds=ROUNDS)
    np.testing.assert_array_equal(again.draws[("zephyr", "bbq")].null["bbq_bias"],
                                  unc.draws[("zephyr", "bbq")].null["bbq_bias"])
    assert uncert.cache_path(study, "zephyr", "bbq", ROUNDS + 1, uncert.SEED) != path
    with pytest.raises(AssertionError, match="recomputed"):
        uncert.collect(study, ["bbq"], rounds=ROUNDS + 1)


def test_the_draws_are_the_stats_functions_on_the_rows(study: Study, unc) -> None:
    """A second computation: the interval and null of zephyr's BBQ bias straight from
    personalib.stats with the same seeds."""
    outcomes = stats.study_outcomes(study.rows("bbq", "zephyr"), "bbq")
    boot_seed, null_seed = uncert._seeds(uncert.SEED, "bbq")
    table = stats.score_intervals(outcomes, [stats.bbq_bias()], rounds=ROUNDS, seed=boot_seed)
    draw = unc.draws[("zephyr", "bbq")]
    np.testing.assert_allclose(draw.low["bbq_bias"], table["low"], rtol=1e-12)
    null = stats.gap_null(outcomes, stats.study_scores("bbq"), rounds=ROUNDS, seed=null_seed)["bbq_bias"]
    mine = uncert.gap_nulls(unc, {"bias": ("bbq", "bbq_bias")})[("zephyr", "bias")]
    assert mine.p_value == pytest.approx(null.p_value) and mine.chance_p95 == pytest.approx(null.chance_p95, rel=1e-6)


def test_rq2_and_rq4_tables_carry_intervals_and_chance_gaps(study: Study) -> None:
    bias_unc = rq2.uncertainty(study, rounds=ROUNDS)
    intervals = rq2.score_intervals(bias_unc).table
    scores = rq2.with_intervals(rq2.bias_scores(study), rq2.score_intervals(bias_unc)).table
    bias = intervals[intervals["measure"] == "bias (mean)"].merge(scores, on=["model", "persona"])
    assert bias["value"].to_numpy() == pytest.approx(bias["bias"].to_numpy(), nan_ok=True)
    assert bias["low"].to_numpy() == pytest.approx(bias["bias_low"].to_numpy(), nan_ok=True)
    assert (bias["bias_low"] <= bias["bias_high"]).sum() == bias["bias"].notna().sum()
    gaps = rq2.gaps(rq2.bias_scores(study), bias_unc)
    assert {"chance_gap", "p_value", "control_gap"} <= set(gaps.table.columns)
    summary = rq2.summary(rq2.bias_scores(study), rq2.cochran(study), gaps)
    assert {"zephyr.bias_chance_gap", "zephyr.unknown_gap_p"} <= set(rq2.key_numbers(summary))
    rates = rq4.refusal_table(study)
    refusal_unc = rq4.uncertainty(study, rounds=ROUNDS)
    gap = rq4.gap_table(rates, refusal_unc).table.set_index(["model", "task"])
    avg = rq4.average_rates(rates).table
    zephyr = avg[avg["model"] == "zephyr"]["value"]
    assert gap.loc[("zephyr", "average"), "gap"] == pytest.approx(zephyr.max() - zephyr.min())
    assert gap["p_value"].notna().all()
    iv = rq4.score_intervals(refusal_unc).table
    merged = iv[iv["task"] == "average"].merge(avg, on=["model", "persona"])
    assert merged["value_x"].to_numpy() == pytest.approx(merged["value_y"].to_numpy())


def test_synonym_pairs_mcnemar_with_holm(study: Study) -> None:
    tests = rq4.synonym_tests(study).table
    tested = tests[tests["p_value"].notna()]
    assert set(tested["persona_a"]) == {"a_black_person"}  # a_homosexual_person is not in the fixture
    assert tests[tests["persona_a"] == "a_gay_person"]["reason"].str.contains("not in the data").all()
    rows = study.rows("attitudes", "mistral")
    pair = rows[rows["persona"].astype(str).isin(["a_black_person", "an_african_american_person"])]
    wide = pair.pivot_table(index="item_id", columns="persona", values="refusal", aggfunc="first",
                            observed=True).astype(float)
    only_a = int(((wide["a_black_person"] == 1) & (wide["an_african_american_person"] == 0)).sum())
    row = tested[(tested["model"] == "mistral") & (tested["task"] == "attitudes")].iloc[0]
    assert row["only_a"] == only_a
    family = tested[tested["model"] == "mistral"]
    holm = stats.holm(family[["p_value"]].reset_index(drop=True))
    np.testing.assert_allclose(family["p_holm"], holm["p_holm"])


def test_degenerate_study_gap_is_zero_and_never_significant(degenerate_study: Study) -> None:
    unc = rq1.uncertainty(degenerate_study, rounds=ROUNDS)
    scores = rq1.persona_scores(degenerate_study)
    gaps = rq1.gap_table(scores, unc).table
    assert gaps["gap"].tolist() == [0.0] and gaps["p_value"].tolist() == [1.0]
    assert pd.isna(gaps["control_gap"].iloc[0])  # a single control persona
    line = rq1.headline_text(rq1.gap_table(scores, unc), scores)
    assert "nan" not in line.lower()


def test_rq3_ranges_carry_their_chance_range(study: Study) -> None:
    unc = rq3.uncertainty(study, rounds=ROUNDS)
    scores = rq3.attitude_table(study)
    summary = rq3.spread_summary(rq3.attitude_long(scores), "attitude", rq3.chance_gaps(unc, "attitudes")).table
    assert summary["range"].to_numpy() == pytest.approx(
        rq3.chance_gaps(unc, "attitudes").table.set_index(["model", "attitude"]).loc[
            list(zip(summary["model"], summary["attitude"])), "gap"].to_numpy())
    assert summary["p_value"].between(1 / (ROUNDS + 1), 1).all() and summary["control_gap"].notna().all()
    tox = rq3.spread_summary(rq3.toxicity_long(rq3.toxicity_table(study)), "measure", rq3.chance_gaps(unc, "toxicity"))
    assert set(tox.table["measure"]) == {"offensiveness", "racism"} and tox.table["chance_gap"].notna().all()


def test_a_corrupt_cached_file_is_recomputed(study: Study) -> None:
    first = uncert.draws(study, "mistral", "truthfulqa", rounds=99)
    path = uncert.cache_path(study, "mistral", "truthfulqa", 99, uncert.SEED)
    path.write_bytes(b"not a zip file")
    again = uncert.draws(study, "mistral", "truthfulqa", rounds=99)
    np.testing.assert_array_equal(again.null["accuracy"], first.null["accuracy"])
    assert uncert._load(path) is not None  # written again
