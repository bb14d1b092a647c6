"""Tests for personalib.stats.disparity: std ratios, arbitrary refusals, top/bottom personas."""

from __future__ import annotations

import statistics
from math import comb

import numpy as np
import pandas as pd
import pytest

from personalib.errors import PersonalibError
from personalib.stats import refusal_pairs, score_gap, std_ratios, top_bottom

CONTROLS = ["a_helpful_assistant", "a_useful_helper", "a_supportive_aide", "an_efficient_aid"]


def persona_scores(model: str = "m1") -> pd.DataFrame:
    rows = [
        ("a_black_person", "race", 0.30), ("an_african_american_person", "race", 0.05),
        ("a_white_person", "race", 0.10), ("a_gay_person", "sexuality", 0.20),
        ("a_homosexual_person", "sexuality", 0.22), ("empty", "empty", 0.01),
        *zip(CONTROLS, ["control"] * 4, [0.02, 0.04, 0.00, 0.03], strict=True),
    ]
    return pd.DataFrame(rows, columns=["persona", "category", "value"]).assign(model=model)


def test_std_ratio_matches_statistics_stdev(no_warnings) -> None:
    table = std_ratios(persona_scores()).set_index("category")
    assert "control" not in table.index
    race = statistics.stdev([0.30, 0.05, 0.10]) / statistics.stdev([0.02, 0.04, 0.00, 0.03])
    assert table.loc["race", "ratio"] == pytest.approx(race)
    assert table.loc["race", "n"] == 3 and table.loc["race", "reason"] is None
    assert np.isnan(table.loc["empty", "ratio"])
    assert table.loc["empty", "reason"] == "category 'empty' has 1 scored persona(s): std needs at least two"


def test_std_ratio_control_degenerate(no_warnings) -> None:
    flat = persona_scores()
    flat.loc[flat.category == "control", "value"] = 0.0  # the demo: no control persona refuses
    row = std_ratios(flat).set_index("category").loc["race"]
    assert np.isnan(row.ratio) and row.reason.startswith("control std is 0")
    none = std_ratios(persona_scores().query("category != 'control'")).set_index("category")
    assert "0 scored control persona(s)" in none.loc["race", "reason"]


def test_std_ratio_per_model_and_duplicates(no_warnings) -> None:
    both = pd.concat([persona_scores("m1"), persona_scores("m2")])
    assert len(std_ratios(both)) == 2 * 3
    with pytest.raises(PersonalibError, match="more than one score"):
        std_ratios(both, by=())


def test_refusal_pairs_table(no_warnings) -> None:
    table = refusal_pairs(persona_scores())
    syn = table[table.kind == "synonym"].set_index("persona_a")
    assert syn.loc["a_black_person", "diff"] == pytest.approx(0.25)
    assert syn.loc["a_gay_person", "abs_diff"] == pytest.approx(0.02)
    assert (table.kind == "control").sum() == comb(len(CONTROLS), 2)
    assert table.abs_diff.is_monotonic_decreasing and table.iloc[0].persona_a == "a_black_person"


def test_refusal_pairs_missing_persona_kept_with_reason(no_warnings) -> None:
    subset = persona_scores().query("persona != 'a_homosexual_person'")
    table = refusal_pairs(subset)
    row = table[table.persona_b == "a_homosexual_person"].iloc[0]
    assert np.isnan(row.abs_diff) and row.reason == "persona 'a_homosexual_person' not in the data"
    assert table.iloc[-1].persona_b == "a_homosexual_person"  # undefined rows last
    no_race = refusal_pairs(subset.query("category != 'race'"))
    black = no_race.set_index("persona_a").loc["a_black_person"]
    assert black.reason == ("personas 'a_black_person' and 'an_african_american_person' "
                                       "not in the data")


def test_top_bottom_and_gap(no_warnings) -> None:
    scores = persona_scores()
    tb = top_bottom(scores, k=2)
    top = tb[tb.end == "top"]
    bottom = tb[tb.end == "bottom"]
    assert top.persona.tolist() == ["a_black_person", "a_homosexual_person"]
    assert bottom.persona.tolist() == ["a_supportive_aide", "empty"]
    assert top.value.tolist() == [0.30, 0.22] and "category" in tb.columns
    gap = score_gap(scores).iloc[0]
    assert gap.gap == pytest.approx(0.30) and gap.top_persona == "a_black_person"
    assert gap.bottom_persona == "a_supportive_aide" and gap.reason is None
    with pytest.raises(PersonalibError, match="k must be at least 1"):
        top_bottom(scores, k=0)


def test_gap_degenerate(no_warnings) -> None:
    one = score_gap(persona_scores().head(1)).iloc[0]
    assert np.isnan(one.gap) and one.reason == "1 scored persona(s): a gap needs at least two"
    same = score_gap(persona_scores().assign(value=0.5)).iloc[0]
    assert same.gap == 0 and same.reason.startswith("all personas have the same score")
    ties = top_bottom(persona_scores().assign(value=0.5), k=1)
    assert ties.persona.tolist() == ["a_black_person", "empty"]  # ties ordered by stem
