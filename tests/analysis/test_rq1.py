"""RQ1 task performance (personalib.analysis.rq1) on the rich and degenerate fixture stores: the
numbers are cross-checked against hand-written pandas on `study.scored`, and degenerate data gives
notes and reasons, never exceptions. Every function returns a `Result` (table + notes)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2

from personalib.analysis import rq1
from personalib.analysis.data import Study
from personalib.analysis.result import Result
from tests.analysis.fixture_store import MODELS


@pytest.fixture(scope="module")
def result(study: Study) -> Result:
    return rq1.persona_scores(study)


@pytest.fixture(scope="module")
def scores(result: Result) -> pd.DataFrame:
    return result.table


def _hits(study: Study, model: str, dataset: str) -> pd.DataFrame:
    rows = study.scored[(study.scored["model"] == model) & (study.scored["dataset"] == dataset)]
    return rows.assign(hit=rows["hit"].astype(float))


def _hand_bbq(study: Study, model: str, persona: str) -> float:
    """BBQ accuracy by hand: per item category and condition, then mean over categories, then the
    mean of the two conditions (METHODS 5); item categories from the BBQ items table."""
    rows = _hits(study, model, "bbq")
    rows = rows[rows["persona"] == persona]
    cat = study.items["bbq"].set_index("item_id")["category"]
    rows = rows.assign(item_cat=rows["item_id"].map(cat))
    by_cat = rows.groupby(["context_condition", "item_cat"])["hit"].mean()
    return float(by_cat.groupby(level="context_condition").mean().mean())


def _hand_overall(study: Study, model: str, persona: str) -> float:
    tqa = _hits(study, model, "truthfulqa")
    tqa = tqa.loc[tqa["persona"] == persona, "hit"].mean()
    mmlu = _hits(study, model, "mmlu")
    mmlu = mmlu[mmlu["persona"] == persona].groupby("subject")["hit"].mean().mean()
    return float(np.mean([tqa, mmlu, _hand_bbq(study, model, persona)]))


def test_scores_match_a_hand_computation(study: Study, scores: pd.DataFrame) -> None:
    assert set(scores["dataset"]) == set(rq1.METRICS)
    assert set(scores["model"]) == set(MODELS)
    assert scores.groupby(["model", "dataset"])["persona"].nunique().eq(14).all()
    for model, persona in (("zephyr", "a_doctor"), ("mistral", "empty"), ("mistral", "a_woman")):
        got = scores.set_index(["model", "persona", "dataset"])["value"]
        assert got[(model, persona, "BBQ")] == pytest.approx(_hand_bbq(study, model, persona))
        assert got[(model, persona, "overall")] == pytest.approx(_hand_overall(study, model, persona))
    assert set(scores.loc[scores["persona"] == "empty", "category"]) == {"empty"}
    assert set(scores.loc[scores["persona"] == "a_helpful_assistant", "category"]) == {"control"}


def test_bbq_accuracy_averages_over_item_categories_not_persona_categories(study: Study) -> None:
    fixed = study.scored
    bbq = fixed[fixed["dataset"] == "bbq"]
    assert set(bbq["category"]) == set(study.items["bbq"]["category"])
    cats = study.persona_categories()
    assert (fixed["persona_category"] == fixed["persona"].map(cats)).all()
    assert cats["empty"] == "empty" and cats["a_helpful_assistant"] == "control"


def test_gap_table_matches_max_minus_min(study: Study, result: Result, scores: pd.DataFrame) -> None:
    gaps = rq1.gap_table(result).table.set_index(["model", "dataset"])
    for model in MODELS:
        hand = {p: _hand_overall(study, model, p) for p in scores["persona"].unique()}
        row = gaps.loc[(model, "overall")]
        assert row["gap"] == pytest.approx(max(hand.values()) - min(hand.values()))
        assert row["top_value"] == pytest.approx(max(hand.values()))
        assert row["no_persona"] == pytest.approx(hand["empty"])
        assert row["no_persona_rank"] == 1 + sum(v > hand["empty"] + 1e-12 for v in hand.values())
    assert gaps["reason"].isna().all()


def test_cochran_q_matches_the_textbook_formula(study: Study) -> None:
    table = rq1.cochran_table(study).table.set_index(["model", "dataset"])
    assert len(table) == 2 * 3
    wide = _hits(study, "zephyr", "mmlu").pivot(index="item_id", columns="persona", values="hit")
    k, col, row, total = wide.shape[1], wide.sum(axis=0), wide.sum(axis=1), wide.to_numpy().sum()
    q = (k - 1) * (k * (col ** 2).sum() - total ** 2) / (k * total - (row ** 2).sum())
    got = table.loc[("zephyr", "MMLU")]
    assert got["statistic"] == pytest.approx(q)
    assert got["p_value"] == pytest.approx(chi2.sf(q, k - 1))
    assert got["n_personas"] == 14 and got["n_items"] == len(wide)


def test_key_numbers_and_headline(study: Study, result: Result) -> None:
    gaps, cochran = rq1.gap_table(result), rq1.cochran_table(study)
    keys = rq1.key_numbers(gaps, cochran)
    for model in MODELS:
        for ds in rq1.METRICS:
            assert {f"{model}.{ds}.{k}" for k in ("best", "worst", "no_persona", "gap")} <= set(keys)
        for ds in rq1.TASKS.values():
            assert keys[f"{model}.{ds}.cochran_p"] < 1
    line = rq1.headline_text(gaps, result)
    overall = gaps.table[gaps.table["dataset"] == "overall"].set_index("model")["gap"]
    assert line.startswith(f"Largest top-bottom gap in overall task score: {overall.idxmax()} "
                           f"{100 * overall.max():.1f} p.p.")
    assert "nan" not in line.lower()


def test_consistency_top_bottom_experts_and_std_ratios(study: Study, result: Result, scores: pd.DataFrame) -> None:
    consistency = rq1.consistency_table(result)
    cons = consistency.table
    race = cons[(cons["dataset"] == "TruthfulQA") & (cons["category"] == "race")].iloc[0]
    wide = scores[(scores["dataset"] == "TruthfulQA") & (scores["category"] == "race")].pivot(
        index="persona", columns="model", values="value")
    assert race["ranking"].split(" > ")[0] == wide.mean(axis=1).idxmax()
    assert set(rq1.consistent_rankings(consistency).table["consistent"]) <= {True}
    tb = rq1.top_bottom_table(result, k=3).table
    assert len(tb) == 2 * 4 * 3
    first = tb[(tb["model"] == "mistral") & (tb["dataset"] == "overall") & (tb["rank"] == 1)].iloc[0]
    sub = scores[(scores["model"] == "mistral") & (scores["dataset"] == "overall")]
    assert first["top_value"] == sub["value"].max() and first["bottom_value"] == sub["value"].min()
    experts, members = rq1.expert_tables(study)
    assert set(experts.table["group"]) == {"healthcare"}  # a_doctor is the fixture's only expert
    assert any("no law expert persona" in n for n in experts.notes)
    assert set(members.table["persona"]) == {"a_doctor"}
    ratios = rq1.std_ratio_table(result).table.set_index(["model", "dataset", "category"])
    sub = scores[(scores["model"] == "zephyr") & (scores["dataset"] == "MMLU")]
    hand = sub.loc[sub["category"] == "race", "value"].std() / sub.loc[
        sub["category"] == "control", "value"].std()
    assert ratios.loc[("zephyr", "MMLU", "race"), "ratio"] == pytest.approx(hand)
    for fig in (rq1.score_figure(result), rq1.ratio_figure(rq1.std_ratio_table(result))):
        assert fig is not None and fig.axes[0].get_ylabel()
        plt.close(fig)


def test_single_model_says_consistency_needs_two(scores: pd.DataFrame) -> None:
    one = Result(scores[scores["model"] == "zephyr"])
    cons = rq1.consistency_table(one)
    assert cons.empty and "needs at least two" in cons.notes[0]
    assert rq1.headline_text(rq1.gap_table(one), one).startswith(
        "Largest top-bottom gap in overall task score: zephyr")


def test_degenerate_study_gives_notes_not_errors(degenerate_study: Study, capsys) -> None:
    scores = rq1.persona_scores(degenerate_study)
    assert set(scores.table["dataset"]) == {"BBQ"}
    notes = scores.notes
    assert any(n.startswith("no TruthfulQA generations in this store") for n in notes)
    assert any(n.startswith("no MMLU generations in this store") for n in notes)
    gaps = rq1.gap_table(scores)
    assert gaps.table["gap"].tolist() == [0.0] and "same score" in gaps.table["reason"].iloc[0]
    cochran = rq1.cochran_table(degenerate_study)
    assert np.isnan(cochran.table["statistic"].iloc[0]) and "same answers" in cochran.table["reason"].iloc[0]
    experts, members = rq1.expert_tables(degenerate_study)
    assert experts.empty and "no MMLU generations" in experts.notes[0]
    ratios = rq1.std_ratio_table(scores)
    assert ratios.table["ratio"].isna().all() and ratios.table["reason"].notna().all()
    assert rq1.ratio_figure(ratios) is None
    assert "std ratios: none is defined" in capsys.readouterr().out
    assert rq1.consistency_table(scores).empty
    line = rq1.headline_text(gaps, scores)
    assert "Overall task score undefined (no TruthfulQA, MMLU generations)" in line
    assert "nan" not in line.lower()
    keys = rq1.key_numbers(gaps, cochran)
    assert keys["zephyr.BBQ.gap"] == 0.0 and np.isnan(keys["zephyr.BBQ.cochran_q"])
