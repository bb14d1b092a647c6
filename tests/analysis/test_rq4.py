"""RQ4 refusals (personalib.analysis.rq4) on the fixture stores: numbers cross-checked against
hand-written pandas on `study.scored`, and the degenerate store (no refusal at all, BBQ only, one
model) answered with notes and reasons instead of exceptions or NaN walls."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import dataclasses

from personalib.analysis import Study, load_study, rq4
from personalib.analysis.result import Result


def _task(frame: pd.DataFrame) -> pd.Series:
    """The METHODS 4 refusal task of each row, written out independently of the package."""
    tox = frame["dataset"] == "toxicity"
    measure = frame["measure"].astype(str)
    return frame["dataset"].astype(str).where(~tox, np.where(measure == "off", "offensiveness", "racism"))


def _hand_average(study: Study, model: str) -> pd.Series:
    """Per persona: mean over the six tasks of the share of refused items."""
    rows = study.scored[study.scored["model"] == model]
    rows = rows.assign(task=_task(rows), refused=rows["refusal"].astype(float))
    per_task = rows.groupby(["persona", "task"])["refused"].mean().unstack()
    assert per_task.shape[1] == 6
    return per_task.mean(axis=1)


def test_summary_matches_hand_computed_rates(study: Study) -> None:
    summary = rq4.summary(rq4.refusal_table(study), study).table.set_index("model")
    assert list(summary.index) == ["zephyr", "mistral"]
    for model in summary.index:
        avg = _hand_average(study, model)
        row = summary.loc[model]
        assert row["personas"] == len(avg) == 14
        assert row["mean_rate"] == pytest.approx(avg.mean())
        assert row["max_rate"] == pytest.approx(avg.max())
        assert row["min_rate"] == pytest.approx(avg.min())
        assert row["no_persona_rate"] == pytest.approx(avg["empty"])
        top = sorted(p for p, v in avg.items() if np.isclose(v, avg.max()))[0]
        assert row["max_persona"] == top
        diff = abs(avg["a_black_person"] - avg["an_african_american_person"])
        assert row["synonym_diff"] == pytest.approx(diff)
        assert row["synonym_pair"] == "a_black_person / an_african_american_person"


def test_task_summary_and_long_rates_per_dataset(study: Study) -> None:
    rows = study.scored[(study.scored["model"] == "mistral") & (study.scored["dataset"] == "bbq")]
    hand = rows.groupby("persona")["refusal"].mean()
    rates = rq4.refusal_table(study)
    tasks = rq4.task_summary(rates).table.set_index(["model", "task"])
    assert tasks.loc[("mistral", "BBQ"), "mean_rate"] == pytest.approx(hand.mean())
    assert tasks.loc[("mistral", "BBQ"), "no_persona_rate"] == pytest.approx(hand["empty"])
    long = rq4.long_rates(rates).table
    assert set(long["task"]) == {"attitudes", "offensiveness", "racism", "TruthfulQA", "MMLU", "BBQ",
                                 "average"}
    assert len(long) == 2 * 14 * 7 and long["value"].notna().all()


def test_cochran_q_matches_textbook_formula(study: Study) -> None:
    rows = study.scored[(study.scored["model"] == "zephyr") & (study.scored["dataset"] == "mmlu")]
    x = rows.pivot(index="item_id", columns="persona", values="refusal").astype(float).to_numpy()
    k = x.shape[1]
    col, row = x.sum(axis=0), x.sum(axis=1)
    q = (k - 1) * (k * (col ** 2).sum() - col.sum() ** 2) / (k * row.sum() - (row ** 2).sum())
    res = rq4.cochran_table(study).table.set_index(["model", "dataset"])
    assert res.loc[("zephyr", "MMLU"), "statistic"] == pytest.approx(q)
    assert res.loc[("zephyr", "MMLU"), "k"] == 14
    assert len(res) == 10 and res["p_value"].notna().all()


def test_most_refused_consistency_ratios_pairs(study: Study) -> None:
    rates = rq4.refusal_table(study)
    top = rq4.most_refused(rates, k=3).table
    most = top[(top["model"] == "zephyr") & (top["end"] == "most refused")]
    avg = _hand_average(study, "zephyr").sort_values(ascending=False)
    assert most["average_rate"].tolist() == pytest.approx(avg.head(3).tolist())
    cons = rq4.consistency_table(rates).table
    assert {"control", "race", "gender"} <= set(cons["category"])
    assert cons.set_index("category").loc["control", "n_models"] == 2
    ratios = rq4.std_ratio_table(rates).table.set_index(["model", "category"])
    hand = _hand_average(study, "zephyr")
    race = hand[["a_black_person", "an_african_american_person", "a_white_person"]].std(ddof=1)
    ctrl = hand[["a_helpful_assistant", "a_useful_helper", "a_supportive_aide",
                 "a_fruitful_facilitator"]].std(ddof=1)
    assert ratios.loc[("zephyr", "race"), "ratio"] == pytest.approx(race / ctrl)
    assert "empty" not in ratios.index.get_level_values("category")
    pairs = rq4.pair_table(rates, control_top=2).table
    assert (pairs.groupby(["model", "kind"]).size() == 2).all()
    assert len(rq4.all_pairs(rates).table) == 2 * (2 + 6)


def test_headline_and_key_numbers(study: Study) -> None:
    summary = rq4.summary(rq4.refusal_table(study), study)
    text = rq4.headline_text(summary)
    assert "nan" not in text.lower() and text.startswith("zephyr: refusal rates") and " | mistral" in text
    keys = rq4.key_numbers(summary)
    assert keys["zephyr.mean_rate"] == pytest.approx(summary.table.loc[0, "mean_rate"])
    assert set(keys) >= {"mistral.max_persona", "mistral.no_persona_rate", "mistral.synonym_diff"}


def test_figures_draw(study: Study) -> None:
    rates = rq4.refusal_table(study)
    for fig in (rq4.distribution_figure(rates), rq4.ratio_figure(rq4.std_ratio_table(rates))):
        assert fig is not None and fig.axes
        plt.close(fig)


def test_one_model_has_no_cross_model_consistency(fixture_paths) -> None:
    profile, store = fixture_paths
    one = load_study(str(profile), store, ["zephyr"], ["regular", "empty", "control"])
    rates = rq4.refusal_table(one)
    cons = rq4.consistency_table(rates)
    assert cons.empty and "only one model (zephyr)" in cons.notes[0]
    assert rq4.headline_text(rq4.summary(rates, one)).startswith("zephyr:")


def test_degenerate_store_gives_notes_not_errors(degenerate_study: Study) -> None:
    rates = rq4.refusal_table(degenerate_study)
    summary = rq4.summary(rates, degenerate_study)
    table = summary.table
    assert table.loc[0, "max_rate"] == 0 and table.loc[0, "max_persona"] is None
    assert table.loc[0, "reason"] == "zephyr: no persona refused anything: there is no most-refused persona"
    notes = " ".join(summary.notes)
    assert "zephyr: no synonym pair has both personas in the data" in notes
    assert "no TruthfulQA generations in this store" in notes
    assert "mean over the 1 task(s) present: BBQ" in notes
    assert rq4.headline_text(summary) == "zephyr: no persona refused anything (0% for all 3 personas)"
    assert rq4.most_refused(rates).empty
    assert "no most-refused persona" in rq4.most_refused(rates).notes[0]
    cochran = rq4.cochran_table(degenerate_study).table
    assert cochran["statistic"].isna().all() and "no item refused" in cochran.loc[0, "reason"]
    assert rq4.consistency_table(rates).empty
    ratios = rq4.std_ratio_table(rates)
    assert ratios.table["ratio"].isna().all() and ratios.table["reason"].notna().all()
    assert rq4.ratio_figure(ratios) is None
    pairs = rq4.pair_table(rates).table
    assert pairs["reason"].str.contains("not in the data").all()
    keys = rq4.key_numbers(summary)
    assert keys["zephyr.max_persona"] is None and keys["zephyr.mean_rate"] == 0


def test_study_without_generations(study: Study) -> None:
    none = dataclasses.replace(study, models=["absent"], sources={}, _last=None, _all=None)
    rates = rq4.refusal_table(none)
    assert rq4.summary(rates, none).empty and rq4.cochran_table(none).empty
    assert rq4.headline_text(rq4.summary(rates, none)) == "no generations to analyse: refusal rates undefined"
    assert "no model with generations" in rq4.consistency_table(rates).notes[0]
    assert rq4.distribution_figure(rates) is None and rq4.ratio_figure(rq4.std_ratio_table(rates)) is None
    assert rq4.most_refused(rates).empty and rq4.pair_table(rates).empty and rq4.task_summary(rates).empty
