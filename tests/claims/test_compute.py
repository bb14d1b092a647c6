"""Tests for personalib.claims.compute: per-model claim computations on hand-chosen scores."""

from __future__ import annotations

import pytest

from personalib.claims import NotComputable
from personalib.claims import compute as c
from tests.claims.helpers import MODELS, data, scores


def test_values_differences_and_ratios() -> None:
    d = data()
    assert c.persona_value(d, model="m2", metric="truthfulqa", persona="r1") == pytest.approx(0.60)
    assert c.difference(d, model="m1", metric="truthfulqa", a="r1", b="r3") == pytest.approx(30.0)
    assert c.ratio(d, model="m1", metric="truthfulqa", a="r1", b="r3") == pytest.approx(0.7 / 0.4)
    zero = scores([{"model": "m1", "persona_set": "regular", "persona": "z", "category": "race",
                    "metric": "refusal:attitudes", "value": 0.0},
                   {"model": "m1", "persona_set": "regular", "persona": "r1", "category": "race",
                    "metric": "refusal:attitudes", "value": 0.2}])
    with pytest.raises(NotComputable, match="score of 0"):
        c.ratio(data(zero), model="m1", metric="refusal:attitudes", a="r1", b="z")


def test_what_is_missing_is_said() -> None:
    d = data()
    with pytest.raises(NotComputable, match="model gpt-4 not in this profile"):
        c.persona_value(d, model="gpt-4", metric="truthfulqa", persona="r1")
    with pytest.raises(NotComputable, match="no mmlu scores for m1"):
        c.persona_value(d, model="m1", metric="mmlu", persona="r1")
    with pytest.raises(NotComputable, match="persona ghost has no truthfulqa score"):
        c.persona_value(d, model="m1", metric="truthfulqa", persona="ghost")
    partial = scores()
    partial = partial[~((partial.model == "m1") & (partial.persona == "c3"))]
    with pytest.raises(NotComputable, match="8 of 9 have a score"):
        c.extremes(data(partial), model="m1", metric="truthfulqa")
    # a category pool is complete although another category's persona is missing
    assert c.extremes(data(partial), model="m1", metric="truthfulqa", category="race") == ["r1", "r3"]


def test_extremes_top_gap_rank() -> None:
    d = data()
    assert c.extremes(d, model="m1", metric="truthfulqa") == ["r1", "r3"]
    assert c.top(d, model="m1", metric="truthfulqa", n=3) == ["r1", "g1", "c2"]
    assert c.top(d, model="m1", metric="truthfulqa", n=2, ascending=True) == ["r3", "g2"]
    assert c.gap(d, model="m3", metric="truthfulqa") == pytest.approx(30.0)
    assert c.gap(d, model="m1", metric="truthfulqa", category="gender") == pytest.approx(20.0)
    assert c.rank(d, model="m1", metric="truthfulqa", persona="empty") == 4
    assert c.rank(d, model="m1", metric="truthfulqa", persona="r3", ascending=True) == 1
    assert c.models_in_top(d, metric="truthfulqa", persona="g1", k=2) == 3
    assert c.models_in_top(d, metric="truthfulqa", persona="c2", k=2) == 0


def test_rank_ties_share_the_best_rank() -> None:
    tied = scores()
    tied.loc[(tied.model == "m1") & (tied.persona == "g1"), "value"] = 0.70
    d = data(tied)
    assert c.rank(d, model="m1", metric="truthfulqa", persona="g1") == 1
    assert c.rank(d, model="m1", metric="truthfulqa", persona="r1") == 1
    assert c.rank(d, model="m1", metric="truthfulqa", persona="c2") == 3
    assert c.extremes(d, model="m1", metric="truthfulqa")[0] == "g1"  # ties by stem


def test_gap_extremes_over_models() -> None:
    wide = scores()
    wide.loc[(wide.model == "m2") & (wide.persona == "r1"), "value"] = 0.95
    d = data(wide)
    assert c.gap_extreme(d, metrics=["truthfulqa"], which="max") == pytest.approx(65.0)
    assert c.gap_extreme_model(d, metrics=["truthfulqa"], which="max") == "m2"
    assert c.gap_extreme(d, metrics=["truthfulqa"], which="min") == pytest.approx(30.0)
    assert c.model_gaps(d, ["truthfulqa"]).index.tolist() == [(m, "truthfulqa") for m in MODELS]


def test_shares_and_controls() -> None:
    d = data()
    assert c.share_beyond(d, model="m1", metric="truthfulqa", threshold=0.5) == pytest.approx(6 / 9)
    assert c.share_beyond(d, model="m1", metric="truthfulqa", threshold=0.5, above=False) == pytest.approx(2 / 9)
    # controls 0.58, 0.61, 0.59 against no persona 0.60: not all above, and the mean (0.5933) below
    assert not c.controls_above(d, model="m1", metric="truthfulqa", reading="all")
    assert not c.controls_above(d, model="m1", metric="truthfulqa", reading="mean")
    assert c.controls_above(d, model="m1", metric="truthfulqa", reference="r3", reading="all")
