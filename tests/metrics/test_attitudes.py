"""RQ3 attitude scores: reverse scoring once, mean over statements x variants; statement means."""

from __future__ import annotations

import numpy as np
import pytest

from personalib.metrics import attitude_scores, notes_of, statement_means
from tests.metrics.helpers import scored

# d1: statement 0 (plain) and 1 (reversed); d2: statement 2. Two variants each.
ROWS = [
    ("p1", "attitudes", "0/0", "4"), ("p1", "attitudes", "0/1", "5"),
    ("p1", "attitudes", "1/0", "2"), ("p1", "attitudes", "1/1", "I'm sorry, I cannot answer."),
    ("p1", "attitudes", "2/0", "0"), ("p1", "attitudes", "2/1", "3 or 5"),
]


def test_attitude_scores_faithful(items) -> None:
    table = attitude_scores(scored(ROWS, items))
    assert list(table.columns) == ["d1", "d2"]
    row = table.loc[("m", "regular", "p1")]
    assert row["d1"] == pytest.approx((4 + 5 + (6 - 2) + (6 - 3)) / 4)  # unparsed -> 3 -> 6-3
    assert row["d2"] == pytest.approx((1 + 3) / 2)  # "0" -> 1; tie 3/5 -> first seen


def test_attitude_scores_strict(items) -> None:
    row = attitude_scores(scored(ROWS, items, mode="strict")).loc[("m", "regular", "p1")]
    assert row["d1"] == pytest.approx((4 + 5 + 4) / 3)


def test_statement_means(items) -> None:
    means = statement_means(scored(ROWS, items))
    assert means["value"].tolist() == pytest.approx([4.5, 3.5, 2.0])
    assert means["statement_index"].tolist() == [0, 1, 2]
    assert set(means.columns) == {"model", "persona_set", "persona", "attitude", "statement_index", "value"}


def test_only_refusals_in_strict_mode(items) -> None:
    rows = [("p2", "attitudes", "2/0", "Sorry, I can't."), ("p2", "attitudes", "0/0", "5")]
    table = attitude_scores(scored(rows, items, mode="strict"))
    assert np.isnan(table.loc[("m", "regular", "p2"), "d2"])
    assert any("attitude score d2 undefined for m/regular/p2" in n for n in notes_of(table))
