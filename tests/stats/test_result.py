"""Tests for personalib.stats.result: input shapes and clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personalib.errors import PersonalibError
from personalib.stats.result import StatResult, as_matrix, complete_blocks, to_matrix


def test_to_matrix_pivots_long_table() -> None:
    long = pd.DataFrame({"item_id": ["1", "1", "2"], "persona": ["a", "b", "a"], "value": [1, 0, 1]})
    wide = to_matrix(long, row="item_id", column="persona", value="value")
    assert wide.loc["1", "a"] == 1.0 and wide.loc["1", "b"] == 0.0
    assert np.isnan(wide.loc["2", "b"])


def test_to_matrix_rejects_duplicate_cells() -> None:
    long = pd.DataFrame({"item_id": ["1", "1"], "persona": ["a", "a"], "value": [1, 0]})
    with pytest.raises(PersonalibError, match=r"\('1', 'a'\) occurs 2 times"):
        to_matrix(long, row="item_id", column="persona", value="value")


def test_missing_column_is_named() -> None:
    with pytest.raises(PersonalibError, match=r"needs column\(s\) \['persona'\]"):
        to_matrix(pd.DataFrame({"item_id": [1], "value": [1]}), row="item_id", column="persona",
                  value="value")


def test_non_numeric_value_is_named() -> None:
    long = pd.DataFrame({"item_id": ["1"], "persona": ["a"], "value": ["yes"]})
    with pytest.raises(PersonalibError, match=r"'value' must be numeric; found \['yes'\]"):
        to_matrix(long, row="item_id", column="persona", value="value")


def test_as_matrix_accepts_wide_and_array_and_rejects_1d() -> None:
    wide = as_matrix(np.array([[1, 0], [0, 1]]), row="r", column="c", value="v", what="t")
    assert wide.shape == (2, 2)
    frame = as_matrix(pd.DataFrame({"a": [True, False]}), row="r", column="c", value="v", what="t")
    assert frame["a"].tolist() == [1.0, 0.0]
    with pytest.raises(PersonalibError, match="2-D"):
        as_matrix(np.array([1, 0]), row="r", column="c", value="v", what="t")
    with pytest.raises(PersonalibError, match="long table with columns 'r', 'c', 'v'"):
        as_matrix(pd.DataFrame({"item": ["x"], "p": [1]}), row="r", column="c", value="v", what="t")


def test_complete_blocks_notes_dropped_rows() -> None:
    m = pd.DataFrame({"a": [1.0, np.nan, 0.0], "b": [1.0, 1.0, 0.0]})
    kept, note = complete_blocks(m, "items")
    assert len(kept) == 2 and note == "dropped 1 of 3 items without a value for every persona"
    assert complete_blocks(m.dropna(), "items")[1] is None


def test_stat_result_ok_and_dict() -> None:
    assert StatResult("x", 1.0, 1.0, 0.5, 3, 2).ok
    bad = StatResult("x", reason="why")
    assert not bad.ok and np.isnan(bad.as_dict()["statistic"])
