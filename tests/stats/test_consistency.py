"""Tests for personalib.stats.consistency: Kendall tau-b cross-model consistency."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from personalib.errors import PersonalibError
from personalib.stats import cross_model_consistency


def textbook_tau_b(x: list[float], y: list[float]) -> float:
    """(n_c - n_d) / sqrt((n0 - n1)(n0 - n2)) over all pairs, ties counted per variable."""
    s = sum(np.sign(x[i] - x[j]) * np.sign(y[i] - y[j]) for i, j in combinations(range(len(x)), 2))
    n0 = len(x) * (len(x) - 1) / 2
    ties = [sum(c * (c - 1) / 2 for c in pd.Series(v).value_counts()) for v in (x, y)]
    return s / np.sqrt((n0 - ties[0]) * (n0 - ties[1]))


SCORES = {  # model -> race persona scores (ties in m2)
    "m1": [0.9, 0.7, 0.5, 0.3, 0.1],
    "m2": [0.8, 0.8, 0.4, 0.2, 0.3],
    "m3": [0.2, 0.6, 0.5, 0.9, 0.1],
}
PERSONAS = ["a_white_person", "a_black_person", "an_asian_person", "a_hispanic_person",
            "an_indian_person"]


def race_table() -> pd.DataFrame:
    return pd.DataFrame([(m, p, "race", v) for m, vals in SCORES.items()
                         for p, v in zip(PERSONAS, vals, strict=True)],
                        columns=["model", "persona", "category", "value"])


def test_mean_tau_matches_textbook_and_ranking(no_warnings) -> None:
    row = cross_model_consistency(race_table()).iloc[0]
    expected = np.mean([textbook_tau_b(SCORES[a], SCORES[b]) for a, b in combinations(SCORES, 2)])
    assert row.mean_tau == pytest.approx(expected)
    assert (row.n_models, row.n_personas, row.n_pairs) == (3, 5, 3)
    assert bool(row.consistent) == bool(expected >= 0.5)
    means = {p: np.mean([SCORES[m][i] for m in SCORES]) for i, p in enumerate(PERSONAS)}
    assert row.ranking.split(" > ") == sorted(means, key=lambda p: (-means[p], p))
    assert row.reason is None and row.metric == "value"


def test_consistent_threshold_is_inclusive(no_warnings) -> None:
    data = race_table()
    data = data[data.model != "m3"]
    tau = textbook_tau_b(SCORES["m1"], SCORES["m2"])
    row = cross_model_consistency(data, threshold=tau).iloc[0]
    assert row.mean_tau == pytest.approx(tau) and bool(row.consistent)


def test_metric_column_groups(no_warnings) -> None:
    data = pd.concat([race_table().assign(metric="accuracy"),
                      race_table().assign(metric="refusal", value=lambda d: -d.value)])
    table = cross_model_consistency(data, metric="metric")
    assert table.metric.tolist() == ["accuracy", "refusal"]
    assert table.mean_tau.iloc[0] == pytest.approx(table.mean_tau.iloc[1])


def test_one_model(no_warnings) -> None:
    row = cross_model_consistency(race_table().query("model == 'm1'")).iloc[0]
    assert np.isnan(row.mean_tau) and pd.isna(row.consistent)
    assert row.reason == "only one model: cross-model consistency needs at least two"
    assert row.ranking.startswith("a_white_person > ")


def test_one_persona_category(no_warnings) -> None:
    data = pd.concat([race_table(), pd.DataFrame({
        "model": ["m1", "m2"], "persona": ["empty", "empty"], "category": ["empty", "empty"],
        "value": [0.5, 0.6]})])
    row = cross_model_consistency(data).set_index("category").loc["empty"]
    assert np.isnan(row.mean_tau) and "only one persona" in row.reason


def test_constant_model_is_left_out_and_named(no_warnings) -> None:
    data = race_table()
    data.loc[data.model == "m3", "value"] = 0.5  # the demo model: the same score for everyone
    row = cross_model_consistency(data).iloc[0]
    assert row.n_pairs == 1
    assert row.mean_tau == pytest.approx(textbook_tau_b(SCORES["m1"], SCORES["m2"]))
    assert "m3 gave every persona in 'race' the same score" in row.reason
    data.loc[data.model == "m2", "value"] = 0.1
    row = cross_model_consistency(data).iloc[0]
    assert np.isnan(row.mean_tau) and row.reason.startswith("no model pair could be compared")


def test_missing_personas_use_shared_ones(no_warnings) -> None:
    data = race_table()
    data = data[~((data.model == "m2") & (data.persona == "a_white_person"))]
    row = cross_model_consistency(data[data.model != "m3"]).iloc[0]
    assert row.mean_tau == pytest.approx(textbook_tau_b(SCORES["m1"][1:], SCORES["m2"][1:]))


def test_duplicate_scores_are_an_error() -> None:
    data = pd.concat([race_table(), race_table()])
    with pytest.raises(PersonalibError, match="occurs 2 times"):
        cross_model_consistency(data)
