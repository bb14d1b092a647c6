"""Tests for personalib.stats.pairwise: McNemar against statsmodels, scipy and the formula, Holm
against a hand-worked table and statsmodels, and the known answers (planted difference, none)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from personalib.errors import PersonalibError
from personalib.stats import mcnemar_pairs


def _pair_matrix(only_a: int, only_b: int, both: int, neither: int, names=("a", "b")) -> pd.DataFrame:
    rows = [[1, 0]] * only_a + [[0, 1]] * only_b + [[1, 1]] * both + [[0, 0]] * neither
    return pd.DataFrame(rows, columns=list(names), dtype=float)


def test_exact_and_chi_square_match_statsmodels_scipy_and_formula(no_warnings) -> None:
    data = _pair_matrix(only_a=14, only_b=5, both=30, neither=11)
    exact = mcnemar_pairs(data, [("a", "b")]).iloc[0]
    assert (exact.only_a, exact.only_b, exact.n_items) == (14, 5, 60)
    assert exact.rate_a == pytest.approx(44 / 60) and exact["diff"] == pytest.approx(9 / 60)
    ref = mcnemar([[30, 14], [5, 11]], exact=True)
    assert exact.p_value == pytest.approx(ref.pvalue) and exact.statistic == ref.statistic == 5
    assert exact.p_value == pytest.approx(binomtest(5, 19, 0.5).pvalue)
    chi = mcnemar_pairs(data, [("a", "b")], exact=False).iloc[0]
    assert chi.statistic == pytest.approx((abs(14 - 5) - 1) ** 2 / 19)
    assert chi.p_value == pytest.approx(mcnemar([[30, 14], [5, 11]], exact=False).pvalue)


def test_holm_hand_worked_and_statsmodels(no_warnings) -> None:
    """Raw p .01, .04, .03 -> sorted .01, .03, .04 times 3, 2, 1 -> .03, .06, .04; step-down
    monotone: .03, .06, .06. In input order: .03, .06, .06."""
    parts = {"a": _pair_matrix(12, 1, 20, 20, ("a", "x")), "b": _pair_matrix(15, 5, 20, 20, ("b", "y")),
             "c": _pair_matrix(16, 5, 20, 20, ("c", "z"))}
    data = pd.concat([parts[k].reset_index(drop=True) for k in "abc"], axis=1)
    table = mcnemar_pairs(data, [("a", "x"), ("b", "y"), ("c", "z")])
    raw = table.p_value.to_numpy()
    order = np.argsort(raw)
    expected = np.maximum.accumulate(np.minimum(1, raw[order] * np.array([3, 2, 1])))
    hand = np.empty(3)
    hand[order] = expected
    np.testing.assert_allclose(table.p_holm, hand)
    np.testing.assert_allclose(table.p_holm, multipletests(raw, method="holm")[1])
    assert table.reject.tolist() == list(multipletests(raw, alpha=0.05, method="holm")[0])


def test_planted_difference_detected_and_identical_pair_not(no_warnings) -> None:
    rng = np.random.default_rng(3)
    base = rng.random(817) < 0.6
    planted = base.copy()
    flip = rng.choice(np.flatnonzero(~base), size=82, replace=False)  # +10 p.p. of 817
    planted[flip] = True
    same = base.copy()
    data = pd.DataFrame({"a_black_person": planted, "an_african_american_person": base,
                         "a_gay_person": same, "a_homosexual_person": base}).astype(float)
    table = mcnemar_pairs(data)  # the study's two near-synonym pairs (METHODS 6)
    first, second = table.iloc[0], table.iloc[1]
    assert first["diff"] == pytest.approx(82 / 817) and first.p_holm < 0.05 and first.reject
    assert second.p_value == 1.0 and not second.reject


def test_long_input_missing_persona_and_bad_values(no_warnings) -> None:
    long = pd.DataFrame({"item_id": [1, 1, 2, 2, 3], "persona": ["a", "b", "a", "b", "a"],
                         "value": [1, 0, 1, 1, 0]})
    table = mcnemar_pairs(long, [("a", "b"), ("a", "ghost")])
    assert table.loc[0, "n_items"] == 2 and table.loc[0, "only_a"] == 1
    assert table.loc[1, "reason"] == "persona 'ghost' not in the data"
    assert np.isnan(table.loc[1, "p_holm"]) and table.loc[0, "p_holm"] == table.loc[0, "p_value"]
    with pytest.raises(PersonalibError, match="binary"):
        mcnemar_pairs(long.assign(value=[2, 0, 1, 1, 0]), [("a", "b")])


def test_holm_over_tables_tested_apart_is_one_family(no_warnings) -> None:
    """Two tasks tested apart, adjusted together: the same as one Holm over the four p-values."""
    from personalib.stats.pairwise import holm

    first = mcnemar_pairs(_pair_matrix(12, 1, 20, 20), [("a", "b")])
    second = mcnemar_pairs(_pair_matrix(15, 5, 20, 20, ("c", "d")), [("c", "d"), ("c", "ghost")])
    family = holm(pd.concat([first, second], ignore_index=True))
    raw = family.p_value.dropna().to_numpy()
    np.testing.assert_allclose(family.p_holm.dropna(), multipletests(raw, method="holm")[1])
    assert family.reject.isna().tolist() == [False, False, True]
