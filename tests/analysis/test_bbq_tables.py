"""RQ2 per BBQ category (personalib.analysis.bbq_tables): the paper's Table 7 and the per-category
bias, checked against plain pandas on the fixture's scored rows."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from personalib.analysis import Study, rq2
from personalib.analysis.bbq_tables import ACROSS


def _hand_accuracy(study: Study, model: str) -> pd.DataFrame:
    rows = study.rows("bbq", model)
    frame = pd.DataFrame({"persona": rows["persona"].astype(str), "cat": rows["category"].astype(str),
                          "cond": rows["context_condition"].astype(str), "hit": rows["hit"].astype(float)})
    by_cond = frame.groupby(["persona", "cat", "cond"])["hit"].mean().unstack("cond")
    return ((by_cond["ambig"] + by_cond["disambig"]) / 2).unstack("cat")


@pytest.fixture(scope="module")
def accuracy(study: Study):
    return rq2.category_accuracy(study)


def test_category_accuracy_is_the_mean_of_the_two_conditions(study: Study, accuracy) -> None:
    hand = _hand_accuracy(study, "zephyr")
    got = accuracy.table[accuracy.table["model"] == "zephyr"].set_index("persona")
    for cat in hand.columns:
        assert got.loc[hand.index, cat].to_numpy() == pytest.approx(hand[cat].to_numpy(), nan_ok=True)
    overall = rq2.metrics.bbq_accuracy(study.rows("bbq", "zephyr"))["bbq"].droplevel([0, 1])
    assert got.loc[overall.index.astype(str), "overall"].to_numpy() == pytest.approx(overall.to_numpy())


def test_group_ranks_table_7(study: Study, accuracy) -> None:
    ranks = rq2.group_ranks(study, accuracy)
    table = ranks.table
    assert list(dict.fromkeys(table["scope"])) == ["zephyr", "mistral", ACROSS]
    hand = _hand_accuracy(study, "mistral")["Race_ethnicity"].rank(ascending=False, method="min")
    members = ["a_black_person", "an_african_american_person", "a_white_person"]  # the fixture's mapped race personas
    row = table[(table["scope"] == "mistral") & (table["group"] == "ethnicity")
                & (table["column"] == "Race_ethnicity")].iloc[0]
    assert row["members"] == 3 and row["mean_rank"] == pytest.approx(hand[members].mean())
    assert row["best_rank"] == hand[members].min() and row["n_personas"] == 14
    mean = accuracy.table.groupby("persona")["Religion"].mean().rank(ascending=False, method="min")
    across = table[(table["scope"] == ACROSS) & (table["group"] == "no persona") & (table["column"] == "Religion")]
    assert across["mean_rank"].iloc[0] == mean["empty"]
    assert any("a_person_of_Judaism_belief" in n for n in ranks.notes)  # not in the fixture: said
    printed = rq2.group_rank_table(ranks).table.set_index("group")
    assert printed.loc["ethnicity", "Race_ethnicity"].endswith(")")  # "mean (best)" for a group
    assert "(" not in printed.loc["no persona", "overall"]  # one member: its rank alone


def test_category_bias_per_bbq_category(study: Study) -> None:
    per_category = rq2.category_bias(study)
    table = per_category.table
    cb = rq2.metrics.category_bias(study.rows("bbq", "zephyr"))["s"].unstack("context_condition")
    want = cb.xs("a_woman", level="persona").droplevel([0, 1])
    got = table[(table["model"] == "zephyr") & (table["persona"] == "a_woman")].set_index("bbq_category")
    assert got.loc[want.index, "s_dis"].to_numpy() == pytest.approx(want["disambig"].to_numpy(), nan_ok=True)
    expect = (want["disambig"] + want["ambig"]) / 2
    assert got.loc[want.index, "bias"].to_numpy() == pytest.approx(expect.to_numpy(), nan_ok=True)
    summary = rq2.category_bias_summary(per_category).table
    one = summary[(summary["model"] == "zephyr") & (summary["bbq_category"] == "Religion")].iloc[0]
    religion = table[(table["model"] == "zephyr") & (table["bbq_category"] == "Religion")]["bias"].dropna()
    assert one["max"] == religion.max() and one["personas"] == len(religion)
    fig = rq2.category_bias_figure(per_category, "mistral")
    assert fig is not None
    plt.close(fig)


def test_degenerate_store(degenerate_study: Study) -> None:
    accuracy = rq2.category_accuracy(degenerate_study)
    ranks = rq2.group_ranks(degenerate_study, accuracy)
    assert set(ranks.table["scope"]) == {"zephyr"}  # one model: no cross-model scope
    assert (ranks.table.loc[ranks.table["members"] > 0, "best_rank"] == 1).all()  # identical answers tie
    assert not np.isnan(rq2.category_bias(degenerate_study).table["bias"]).all()
