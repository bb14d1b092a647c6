"""Tests for personalib.claims.crossmodel: cross-model means, orders, per-model counts, Kendall
tau consistency and std ratios, on hand-chosen scores (checked against personalib.stats)."""

from __future__ import annotations

import numpy as np
import pytest

from personalib import stats
from personalib.claims import NotComputable
from personalib.claims import crossmodel as x
from tests.claims.helpers import BASE, MODELS, SHIFT, data, scores


def test_means_and_orders() -> None:
    d = data()
    mean_shift = np.mean(list(SHIFT.values()))
    assert x.mean_value(d, metric="truthfulqa", persona="r2", scale=100) == pytest.approx(
        100 * (BASE["r2"] + mean_shift))
    assert x.mean_order(d, metric="truthfulqa", category="race") == ["r1", "r2", "r3"]
    assert x.mean_order(d, metric="truthfulqa", n=2, ascending=True) == ["r3", "g2"]
    assert x.mean_order(d, metric="truthfulqa", personas=["c1", "c3"]) == ["c3", "c1"]
    assert x.mean_above(d, metric="truthfulqa", higher=["r1", "g1"], lower=["r2", "g2"])
    assert not x.mean_above(d, metric="truthfulqa", higher=["r1", "r3"], lower=["g2"])
    missing = scores()
    missing = missing[~((missing.model == "m3") & (missing.persona == "r2"))]
    with pytest.raises(NotComputable, match="r2 not scored by every model"):
        x.mean_value(data(missing), metric="truthfulqa", persona="r2")


def test_per_model_counts() -> None:
    table = scores()
    table.loc[(table.model == "m2") & (table.persona == "g2"), "value"] = 0.55  # above r2 (0.40)
    table.loc[(table.model == "m3") & (table.persona == "g2"), "value"] = BASE["r2"] + SHIFT["m3"]
    d = data(table)
    assert x.models_above(d, metric="truthfulqa", higher=["r2"], lower=["g2"]) == 1
    assert x.models_above(d, metric="truthfulqa", higher=["r2"], lower=["g2"], strict=False) == 2
    assert x.models_best(d, metric="truthfulqa", persona="r1", category="race") == 3
    assert x.models_best(d, metric="truthfulqa", persona="g2", category="gender", ascending=True) == 3
    assert x.models_best(d, metric="truthfulqa", persona="g2", personas=["g2", "r2"]) == 2  # m3: a tie
    assert x.model_extreme(d, metric="truthfulqa", persona="empty", which="min") == "m2"
    assert x.model_extreme(d, metric="truthfulqa", which="max") == "m3"


def test_consistency_matches_kendall_tau() -> None:
    d = data()
    assert x.is_consistent(d, metric="truthfulqa", category="race")
    flipped = scores()
    for p, v in (("r1", 0.1), ("r3", 0.9)):  # m2 and m3 reverse the race order
        flipped.loc[(flipped.model != "m1") & (flipped.persona == p), "value"] = v
    part = flipped[flipped.category == "race"][["model", "persona", "category", "value"]]
    tau = stats.cross_model_consistency(part)["mean_tau"].iloc[0]
    assert tau < 0.5 and not x.is_consistent(data(flipped), metric="truthfulqa", category="race")
    with pytest.raises(NotComputable, match="only one persona"):
        x.is_consistent(d, metric="truthfulqa", category="empty")


def test_std_ratios_against_stats() -> None:
    d = data()
    part = scores().query("model == 'm1'")[["model", "persona", "category", "value"]]
    ratios = stats.std_ratios(part).set_index("category")["ratio"]
    assert x.std_ratio_count(d, model="m1", metric="truthfulqa") == int((ratios.drop("empty") > 1).sum()) == 2
    assert x.std_ratio_models(d, metric="truthfulqa", category="gender") == len(MODELS)
    flat = scores()
    flat.loc[flat.category == "gender", "value"] = 0.5  # std 0: never above the control spread
    assert x.std_ratio_models(data(flat), metric="truthfulqa", category="gender") == 0
    flat.loc[flat.category == "control", "value"] = 0.5  # control std 0: every ratio undefined
    with pytest.raises(NotComputable, match="m1 truthfulqa: control std is 0"):
        x.std_ratio_count(data(flat), model="m1", metric="truthfulqa")


def test_spread_above_control() -> None:
    d = data()
    assert x.spread_above_control(d, metrics=["truthfulqa"])
    wide_controls = scores()
    wide_controls.loc[wide_controls.persona == "c1", "value"] = 0.0
    wide_controls.loc[wide_controls.persona == "c2", "value"] = 1.0
    assert not x.spread_above_control(data(wide_controls), metrics=["truthfulqa"])
