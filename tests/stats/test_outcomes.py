"""Tests for personalib.stats.outcomes: the items x personas class matrix keeps every value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personalib.errors import PersonalibError
from personalib.stats import encode, from_long


def test_encode_keeps_every_value_and_counts_per_stratum() -> None:
    rng = np.random.default_rng(1)
    hit = (rng.random((40, 6)) < 0.5).astype(float)
    hit[rng.random((40, 6)) < 0.1] = np.nan
    rating = rng.integers(1, 6, (40, 6)).astype(float)
    strata = rng.choice(["x", "y", "z"], 40)
    out = encode({"hit": hit, "rating": rating}, strata, personas=list("abcdef"))
    np.testing.assert_array_equal(out.matrix("hit"), hit)
    np.testing.assert_array_equal(out.matrix("rating"), rating)
    assert out.codes.dtype == np.uint8 and out.stratum_labels == ("x", "y", "z")
    counts = out.counts()
    for s, lab in enumerate(out.stratum_labels):
        for c in range(out.n_classes):
            np.testing.assert_array_equal(counts[s, c], (out.codes[strata == lab] == c).sum(axis=0))


def test_from_long_pivots_and_orders_personas() -> None:
    table = pd.DataFrame({"item_id": ["i1", "i1", "i2", "i2", "i3"],
                          "persona": ["b", "a", "a", "b", "a"],
                          "hit": pd.array([True, False, True, None, True], dtype="boolean"),
                          "subject": ["law", "law", "math", "math", "law"]})
    out = from_long(table, ["hit"], stratum="subject", personas=["a", "b"])
    assert out.personas == ("a", "b") and out.items == ("i1", "i2", "i3")
    np.testing.assert_array_equal(out.matrix("hit"), [[0, 1], [1, np.nan], [1, np.nan]])
    assert [out.stratum_labels[s] for s in out.strata] == ["law", "math", "law"]
    two = from_long(table.assign(cond=["a", "a", "d", "d", "a"]), ["hit"], stratum=["subject", "cond"])
    assert two.stratum_labels == (("law", "a"), ("math", "d"))


def test_bad_input_names_the_problem() -> None:
    table = pd.DataFrame({"item_id": ["i1", "i1"], "persona": ["a", "a"], "hit": [1, 0]})
    with pytest.raises(PersonalibError, match=r"\('i1', 'a'\) occurs 2 times"):
        from_long(table, ["hit"])
    with pytest.raises(PersonalibError, match="persona 'a' .* not in the given personas"):
        from_long(table.iloc[:1], ["hit"], personas=["z"])
    with pytest.raises(PersonalibError, match=r"lacks|needs column"):
        from_long(table, ["refusal"])
    with pytest.raises(PersonalibError, match="shape"):
        encode({"a": np.zeros((3, 2)), "b": np.zeros((2, 2))})
    with pytest.raises(PersonalibError, match="distinct values"):
        encode({"x": np.arange(600, dtype=float).reshape(300, 2)})
    with pytest.raises(PersonalibError, match="is not in this matrix"):
        encode({"x": np.zeros((2, 2))}).matrix("y")


def test_select_merges_classes_and_keeps_values() -> None:
    rng = np.random.default_rng(3)
    a = (rng.random((30, 4)) < 0.5).astype(float)
    b = np.where(rng.random((30, 4)) < 0.2, np.nan, (rng.random((30, 4)) < 0.5).astype(float))
    out = encode({"a": a, "b": b}, rng.choice(["s", "t"], 30))
    only_b = out.select(["b"])
    assert only_b.names == ("b",) and only_b.n_classes == 3 < out.n_classes
    np.testing.assert_array_equal(only_b.matrix("b"), b)
    assert only_b.stratum_labels == out.stratum_labels
